// Sensors drawn on canvas tiles: fluid with 100,000 points and more.
//
// Each point is projected once to Web Mercator (0..1) and bucketed in a 1024 x 1024 grid sorted
// by cell (compressed rows, like a CSR matrix). A 256-px tile reads only the cells it covers,
// draws at most one dot per pixel and colour (an occupancy bitmap), and batches one path per
// colour: a tile costs about its pixel count at low zoom and its point count at high zoom,
// never the whole data set. Leaflet keeps tiles while panning, so a pan draws only the new
// edge tiles; clicks look up the nearest point through the same grid.

const LEVEL = 10;
const SIDE = 1 << LEVEL;

export function mercator(lon, lat) {
  const s = Math.sin((Math.max(-85.05, Math.min(85.05, lat)) * Math.PI) / 180);
  return [(lon + 180) / 360, 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)];
}

export class PointIndex {
  /** lon, lat: arrays of equal length. */
  constructor(lon, lat) {
    const n = lon.length;
    this.n = n;
    this.x = new Float64Array(n);
    this.y = new Float64Array(n);
    const cell = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const [x, y] = mercator(lon[i], lat[i]);
      this.x[i] = x;
      this.y[i] = y;
      const cx = Math.min(SIDE - 1, Math.max(0, Math.floor(x * SIDE)));
      const cy = Math.min(SIDE - 1, Math.max(0, Math.floor(y * SIDE)));
      cell[i] = cy * SIDE + cx;
    }
    // Sort (cell, point) pairs packed in one float64 each (exact below 2^53): the typed
    // array's native numeric sort is an order of magnitude faster than a comparator.
    const packed = new Float64Array(n);
    for (let i = 0; i < n; i++) packed[i] = cell[i] * 4194304 + i; // 2^22 points at most
    packed.sort();
    this.order = new Int32Array(n);
    this.keys = new Int32Array(n);
    for (let k = 0; k < n; k++) {
      const i = packed[k] % 4194304;
      this.order[k] = i;
      this.keys[k] = cell[i];
    }
  }

  _lower(key) {
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.keys[mid] < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Call fn(i) for every point in the Mercator box [x0, x1) x [y0, y1). */
  each(x0, y0, x1, y1, fn) {
    const cx0 = Math.max(0, Math.floor(x0 * SIDE));
    const cx1 = Math.min(SIDE - 1, Math.floor(x1 * SIDE));
    const cy0 = Math.max(0, Math.floor(y0 * SIDE));
    const cy1 = Math.min(SIDE - 1, Math.floor(y1 * SIDE));
    for (let cy = cy0; cy <= cy1; cy++) {
      const end = this._lower(cy * SIDE + cx1 + 1);
      for (let k = this._lower(cy * SIDE + cx0); k < end; k++) {
        const i = this.order[k];
        const x = this.x[i];
        const y = this.y[i];
        if (x >= x0 && x < x1 && y >= y0 && y < y1) fn(i);
      }
    }
  }

  /** The point nearest to (x, y) within r (Mercator units), or -1. */
  nearest(x, y, r, accept = () => true) {
    let best = -1;
    let bestD = r * r;
    this.each(x - r, y - r, x + r, y + r, (i) => {
      const dx = this.x[i] - x;
      const dy = this.y[i] - y;
      const d = dx * dx + dy * dy;
      if (d <= bestD && accept(i)) {
        best = i;
        bestD = d;
      }
    });
    return best;
  }
}

/**
 * A Leaflet GridLayer drawing an index's points. colourOf(i) returns a palette index (or -1 to
 * skip the point); palette is a list of CSS colours.
 */
// Tiles are drawn one per task, in the order Leaflet asks for them, so a zoom that needs 30
// tiles is 30 short tasks instead of one long one (the page keeps answering input).
const queue = [];
let pumping = false;

function pump() {
  const start = performance.now();
  while (queue.length && performance.now() - start < 12) {
    const job = queue.shift();
    if (job.layer._map) job.run();
    else job.done(null, job.tile);
  }
  if (queue.length) setTimeout(pump, 0);
  else pumping = false;
}

export function pointLayer(index, colourOf, palette, options = {}) {
  const Layer = L.GridLayer.extend({
    createTile(coords, done) {
      const tile = document.createElement("canvas");
      const layer = this;
      queue.push({
        layer,
        tile,
        done,
        run: () => {
          layer._draw(tile, coords);
          done(null, tile);
        },
      });
      if (!pumping) {
        pumping = true;
        setTimeout(pump, 0);
      }
      return tile;
    },
    _draw(tile, coords) {
      const size = this.getTileSize();
      const ratio = window.devicePixelRatio || 1;
      tile.width = size.x * ratio;
      tile.height = size.y * ratio;
      const ctx = tile.getContext("2d");
      ctx.scale(ratio, ratio);
      const scale = 2 ** coords.z;
      const radius = coords.z >= 14 ? 5 : coords.z >= 11 ? 3.5 : 2;
      const pad = radius / size.x;
      const x0 = coords.x / scale - pad / scale;
      const y0 = coords.y / scale - pad / scale;
      const x1 = (coords.x + 1) / scale + pad / scale;
      const y1 = (coords.y + 1) / scale + pad / scale;
      const w = size.x + 2 * Math.ceil(radius);
      const taken = palette.map(() => new Uint8Array(w * w));
      const paths = palette.map(() => []);
      index.each(x0, y0, x1, y1, (i) => {
        const c = colourOf(i);
        if (c < 0) return;
        const px = (index.x[i] * scale - coords.x) * size.x;
        const py = (index.y[i] * scale - coords.y) * size.y;
        const ix = Math.round(px + radius);
        const iy = Math.round(py + radius);
        const slot = iy * w + ix;
        if (taken[c][slot]) return;
        taken[c][slot] = 1;
        paths[c].push(px, py);
      });
      ctx.lineWidth = 0.8;
      ctx.strokeStyle = "rgba(0,0,0,0.55)";
      paths.forEach((xy, c) => {
        if (!xy.length) return;
        ctx.beginPath();
        for (let k = 0; k < xy.length; k += 2) {
          ctx.moveTo(xy[k] + radius, xy[k + 1]);
          ctx.arc(xy[k], xy[k + 1], radius, 0, 2 * Math.PI);
        }
        ctx.fillStyle = palette[c];
        ctx.fill();
        if (radius > 2) ctx.stroke();
      });
    },
  });
  return new Layer({ pane: options.pane || "overlayPane", updateWhenZooming: false, ...options });
}
