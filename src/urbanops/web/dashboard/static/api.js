// The dashboard talks to the public REST API only. The API key (if any) lives in this tab's
// sessionStorage and goes in the Authorization header: EventSource cannot send headers, so the
// live stream is read with fetch() and parsed here (Server-Sent Events, with Last-Event-ID).

const KEY = "urbanops.key";

export function apiKey() {
  return sessionStorage.getItem(KEY) || "";
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

function headers(extra = {}) {
  const h = { Accept: "application/json", ...extra };
  const key = apiKey();
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

/** GET or POST a path of the API; JSON in and out; problem+json errors become ApiError. */
export async function api(path, { method = "GET", body, signal } = {}) {
  const init = { method, headers: headers(), signal };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, init);
  if (!response.ok) {
    let problem = null;
    try {
      problem = await response.json();
    } catch (_) {
      problem = null;
    }
    throw new ApiError(response.status, problem);
  }
  if (response.status === 204) return null;
  return response.json();
}

/** An image (tile, legend) fetched with the key, as an object URL. */
export async function imageUrl(path, signal) {
  const response = await fetch(path, { headers: headers({ Accept: "image/*" }), signal });
  if (!response.ok) throw new ApiError(response.status, null);
  return URL.createObjectURL(await response.blob());
}

/**
 * Follow a Server-Sent Events stream. Calls onEvent(type, data) for each event and
 * onState("live" | "reconnecting") as the connection changes; reconnects after errors with
 * the last event id. Returns a function that stops it.
 */
export function stream(path, onEvent, onState = () => {}) {
  let stopped = false;
  let lastId = null;
  let controller = null;
  let retryMs = 2000;

  async function run() {
    while (!stopped) {
      controller = new AbortController();
      try {
        const extra = { Accept: "text/event-stream" };
        if (lastId) extra["Last-Event-ID"] = lastId;
        const response = await fetch(path, { headers: headers(extra), signal: controller.signal });
        if (!response.ok) throw new ApiError(response.status, null);
        onState("live");
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let cut;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            let type = "message";
            let id = null;
            const data = [];
            for (const line of block.split("\n")) {
              if (line.startsWith(":")) continue;
              const colon = line.indexOf(":");
              const field = colon < 0 ? line : line.slice(0, colon);
              const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
              if (field === "event") type = text;
              else if (field === "data") data.push(text);
              else if (field === "id") id = text;
              else if (field === "retry" && /^\d+$/.test(text)) retryMs = Number(text);
            }
            if (id) lastId = id;
            if (data.length) {
              try {
                onEvent(type, JSON.parse(data.join("\n")));
              } catch (err) {
                console.warn("unreadable event", err);
              }
            }
          }
        }
      } catch (err) {
        if (stopped) return;
        if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
          onState("forbidden");
          return;
        }
      }
      if (stopped) return;
      onState("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
  }
  run();
  return () => {
    stopped = true;
    if (controller) controller.abort();
  };
}
