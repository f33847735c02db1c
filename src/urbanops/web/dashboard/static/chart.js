// A small time-series chart on a canvas: line, axes with local times, the unit, min and max.
// Enough for "what did this sensor do lately" without a charting library.

function niceStep(range, count) {
  const raw = range / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw || 1));
  const norm = raw / mag;
  return (norm >= 5 ? 10 : norm >= 2 ? 5 : norm >= 1 ? 2 : 1) * mag;
}

/**
 * Draw times (epoch ms) and values on canvas. timeZone: the city's IANA zone; locale: "en" or
 * "ko". Returns false when there is nothing to draw.
 */
export function drawSeries(canvas, times, values, { unit = "", timeZone, locale = "en" } = {}) {
  const ctx = canvas.getContext("2d");
  const ratio = window.devicePixelRatio || 1;
  const cssW = canvas.clientWidth || canvas.width;
  const cssH = canvas.clientHeight || canvas.height;
  canvas.width = cssW * ratio;
  canvas.height = cssH * ratio;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, cssW, cssH);
  const pts = [];
  for (let i = 0; i < times.length; i++) {
    if (Number.isFinite(values[i])) pts.push([times[i], values[i]]);
  }
  if (!pts.length) return false;
  pts.sort((a, b) => a[0] - b[0]);
  const style = getComputedStyle(canvas);
  const ink = style.color || "#222";
  const left = 52;
  const right = 12;
  const top = 16;
  const bottom = 28;
  const t0 = pts[0][0];
  const t1 = Math.max(pts[pts.length - 1][0], t0 + 1);
  let v0 = Math.min(...pts.map((p) => p[1]));
  let v1 = Math.max(...pts.map((p) => p[1]));
  if (v1 - v0 < 1e-9) {
    v0 -= 1;
    v1 += 1;
  }
  const step = niceStep(v1 - v0, 4);
  v0 = Math.floor(v0 / step) * step;
  v1 = Math.ceil(v1 / step) * step;
  const X = (t) => left + ((t - t0) / (t1 - t0)) * (cssW - left - right);
  const Y = (v) => top + (1 - (v - v0) / (v1 - v0)) * (cssH - top - bottom);
  ctx.font = "12px system-ui, sans-serif";
  ctx.fillStyle = ink;
  ctx.strokeStyle = "rgba(128,128,128,0.35)";
  ctx.lineWidth = 1;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (let v = v0; v <= v1 + step / 2; v += step) {
    ctx.beginPath();
    ctx.moveTo(left, Y(v));
    ctx.lineTo(cssW - right, Y(v));
    ctx.stroke();
    ctx.fillText(Number(v.toFixed(6)).toLocaleString(locale), left - 6, Y(v));
  }
  ctx.textAlign = "left";
  ctx.textBaseline = "top";
  ctx.fillText(unit, 4, 0);
  const span = t1 - t0;
  const fmt = new Intl.DateTimeFormat(locale, {
    timeZone,
    ...(span > 2 * 86400e3
      ? { month: "numeric", day: "numeric" }
      : { hour: "2-digit", minute: "2-digit", hour12: false }),
  });
  for (let k = 0; k <= 4; k++) {
    const t = t0 + (k / 4) * span;
    ctx.textAlign = k === 0 ? "left" : k === 4 ? "right" : "center";
    ctx.fillText(fmt.format(new Date(t)), X(t), cssH - bottom + 8);
  }
  ctx.strokeStyle = "#1f78b4";
  ctx.lineWidth = 1.6;
  ctx.beginPath();
  pts.forEach(([t, v], i) => (i ? ctx.lineTo(X(t), Y(v)) : ctx.moveTo(X(t), Y(v))));
  ctx.stroke();
  // the newest reading as a dot (a lone reading would otherwise draw nothing)
  const [tl, vl] = pts[pts.length - 1];
  ctx.fillStyle = "#1f78b4";
  ctx.beginPath();
  ctx.arc(X(tl), Y(vl), 3.5, 0, 2 * Math.PI);
  ctx.fill();
  return true;
}
