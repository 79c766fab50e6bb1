// The vaekit latent explorer: plain JavaScript, no libraries, nothing fetched but this server's API.
"use strict";

const $ = (id) => document.getElementById(id);
const MAX_DIM_SLIDERS = 32;
const S = { info: null, base: [], edits: {}, groups: [[], []], A: null, B: null, seed: 0, map: null, customs: 0, condition: null };

function status(text, error = false) {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("error", error);
}

async function api(path, body) {
  const options = body === undefined ? {} : { method: "POST", body: body instanceof Blob ? body : JSON.stringify(body) };
  const response = await fetch(path, options);
  const answer = await response.json().catch(() => ({ error: `${response.status} ${response.statusText}` }));
  if (!response.ok) {
    status(answer.error || `request failed (${response.status})`, true);
    throw new Error(answer.error);
  }
  return answer;
}

// Decode the latest latent only: while one request is in flight, newer ones replace each other.
function coalesced(fetchImage, img) {
  let pending = null;
  let busy = false;
  return async function (z) {
    pending = z;
    if (busy) return;
    busy = true;
    try {
      while (pending !== null) {
        const next = pending;
        pending = null;
        const url = await fetchImage(next).catch(() => null);
        if (url) img.src = url;
      }
    } finally {
      busy = false;
    }
  };
}

// A conditional model (cvae) decodes everything with the page's condition: a class index or one number per attribute.
const conditioned = (body) => (S.info && S.info.condition ? { ...body, condition: S.condition } : body);

const decodeOne = async (z) => (await api("/api/decode", conditioned({ z: [z] }))).images[0];
const showCurrent = coalesced(decodeOne, $("current"));
const showT = coalesced(decodeOne, $("point-t"));
const showHover = coalesced(async ([x, y]) => {
  const r = await api("/api/map/point", conditioned({ x, y, method: $("method").value }));
  return r.image;
}, $("hover"));

function offsets() {
  const d = S.info.latent_dim;
  const out = new Array(d).fill(0);
  for (const { vector, strength } of Object.values(S.edits)) {
    if (!vector || strength === 0) continue;
    for (let i = 0; i < d; i++) out[i] += strength * vector[i];
  }
  return out;
}

function current() {
  const o = offsets();
  return S.base.map((v, i) => v + o[i]);
}

function refreshDims() {
  const z = current();
  for (const input of document.querySelectorAll(".dim-slider")) {
    const d = Number(input.dataset.dim);
    input.value = z[d];
    input.nextElementSibling.textContent = z[d].toFixed(2);
  }
}

function update() {
  refreshDims();
  showCurrent(current());
}

function setCurrent(z, inputUrl = null) {
  S.base = z.slice();
  for (const name of Object.keys(S.edits)) S.edits[name].strength = 0;
  for (const input of document.querySelectorAll(".attr-slider")) {
    input.value = 0;
    input.nextElementSibling.textContent = "0.0";
  }
  $("input-figure").hidden = !inputUrl;
  if (inputUrl) $("upload-input").src = inputUrl;
  update();
}

function slider(container, label, attrs, onInput) {
  const name = document.createElement("label");
  name.textContent = label;
  const input = document.createElement("input");
  input.type = "range";
  Object.assign(input, attrs);
  const out = document.createElement("output");
  out.textContent = Number(attrs.value).toFixed(2);
  input.addEventListener("input", () => onInput(input, out));
  container.append(name, input, out);
  return input;
}

function buildDims() {
  const { order, kl, centre, scale, latent_dim } = S.info;
  const box = $("dims");
  box.replaceChildren();
  for (const d of order.slice(0, MAX_DIM_SLIDERS)) {
    const label = kl ? `z${d} (KL ${kl[d].toFixed(2)})` : `z${d}`;
    const lo = centre[d] - 3 * scale[d];
    const input = slider(box, label, { min: lo, max: centre[d] + 3 * scale[d], step: scale[d] / 50, value: centre[d] }, (el, out) => {
      S.base[d] = Number(el.value) - offsets()[d];
      out.textContent = Number(el.value).toFixed(2);
      showCurrent(current());
    });
    input.className = "dim-slider";
    input.dataset.dim = d;
  }
  if (latent_dim > MAX_DIM_SLIDERS) {
    const more = document.createElement("p");
    more.className = "hint";
    more.textContent = `and ${latent_dim - MAX_DIM_SLIDERS} more dimensions with less information`;
    box.after(more);
  }
}

function addEdit(name, vector) {
  S.edits[name] = { vector, strength: 0 };
  const input = slider($("attributes"), name, { min: -3, max: 3, step: 0.1, value: 0 }, async (el, out) => {
    out.textContent = Number(el.value).toFixed(1);
    const edit = S.edits[name];
    if (!edit.vector) edit.vector = (await api("/api/attribute", { name })).vector;
    edit.strength = Number(el.value);
    update();
  });
  input.className = "attr-slider";
  input.dataset.name = name;
}

async function loadSamples() {
  const box = $("samples");
  if (!S.info.samplers.length) {
    box.replaceChildren(document.createTextNode("This model has no prior; fit a sampler to sample it: vaekit fit-sampler RUN --sampler gmm"));
    return;
  }
  const r = await api("/api/sample", conditioned({ n: 16, temperature: Number($("temperature").value), seed: S.seed, sampler: $("sampler").value }));
  box.replaceChildren(
    ...r.images.map((url, i) => {
      const img = document.createElement("img");
      img.src = url;
      img.className = "sample";
      img.alt = `sample ${i + 1}`;
      img.addEventListener("click", () => setCurrent(r.z[i]));
      return img;
    }),
  );
}

// ------------------------------------------------------------------ interpolation
function lerp(a, b, t) {
  return a.map((v, i) => v + t * (b[i] - v));
}

function slerp(a, b, t) {
  const dot = a.reduce((s, v, i) => s + v * b[i], 0);
  const na = Math.hypot(...a), nb = Math.hypot(...b);
  const omega = Math.acos(Math.min(1, Math.max(-1, dot / Math.max(na * nb, 1e-12))));
  if (Math.abs(omega) < 1e-4 || Math.abs(Math.PI - omega) < 1e-4) return lerp(a, b, t);
  const s = Math.sin(omega);
  return a.map((v, i) => (Math.sin((1 - t) * omega) / s) * v + (Math.sin(t * omega) / s) * b[i]);
}

function scrub() {
  const t = Number($("scrub").value);
  $("t-value").textContent = `t = ${t.toFixed(2)}`;
  if (!S.A || !S.B) return;
  showT(($("mode").value === "slerp" ? slerp : lerp)(S.A, S.B, t));
}

async function strip() {
  const e = Math.min(2, Math.max(0, Number($("extrapolate").value) || 0));
  $("scrub").min = -e;
  $("scrub").max = 1 + e;
  if (!S.A || !S.B) return;
  const r = await api("/api/interpolate", conditioned({ a: S.A, b: S.B, steps: 9, mode: $("mode").value, extrapolate: e }));
  $("strip").replaceChildren(
    ...r.images.map((url, i) => {
      const img = document.createElement("img");
      img.src = url;
      img.title = `t = ${r.t[i]}`;
      img.addEventListener("click", () => setCurrent(r.z[i]));
      return img;
    }),
  );
  scrub();
}

async function setEnd(which) {
  const z = current();
  S[which] = z;
  $(which === "A" ? "point-a" : "point-b").src = await decodeOne(z);
  await strip();
}

// ------------------------------------------------------------------ a cvae's condition
function buildCondition() {
  const c = S.info.condition;
  if (!c) return;
  $("condition-panel").hidden = false;
  const box = $("condition");
  box.replaceChildren();
  box.className = c.kind === "label" ? "controls" : "sliders";
  if (c.kind === "label") {
    S.condition = 0;
    const select = document.createElement("select");
    select.id = "condition-class";
    select.append(...c.classes.map((name, i) => new Option(name, String(i))));
    select.addEventListener("change", () => {
      S.condition = Number(select.value);
      conditionChanged();
    });
    const label = document.createElement("label");
    label.append("class ", select);
    box.append(label);
    return;
  }
  S.condition = c.names.map(() => 0);
  const [lo, hi] = c.range;
  c.names.forEach((name, i) => {
    const input = slider(box, name, { min: lo, max: hi, step: 0.05, value: 0 }, (el, out) => {
      S.condition[i] = Number(el.value);
      out.textContent = Number(el.value).toFixed(2);
      conditionChanged();
    });
    input.className = "cond-slider";
    input.dataset.name = name;
  });
}

function showCondition(value) {
  if (!S.info.condition || value === null || value === undefined) return;
  S.condition = Array.isArray(value) ? value.slice() : value;
  if (S.info.condition.kind === "label") {
    $("condition-class").value = String(value);
    return;
  }
  document.querySelectorAll(".cond-slider").forEach((input, i) => {
    input.value = S.condition[i];
    input.nextElementSibling.textContent = Number(S.condition[i]).toFixed(2);
  });
}

// A new condition redraws every image on the page that a latent decodes to. The current point
// follows each slider step (coalesced); the rest is redrawn once per round, for the latest condition.
let redrawing = false;
let redrawAgain = false;
async function conditionChanged() {
  update();
  if (redrawing) {
    redrawAgain = true;
    return;
  }
  redrawing = true;
  try {
    do {
      redrawAgain = false;
      if (S.A) $("point-a").src = await decodeOne(S.A);
      if (S.B) $("point-b").src = await decodeOne(S.B);
      await Promise.all([loadSamples(), strip()]);
    } while (redrawAgain);
  } finally {
    redrawing = false;
  }
}

// ------------------------------------------------------------------ the map
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

function mapFrame(points) {
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const pad = 12, size = $("map").width - 2 * pad;
  const sx = size / Math.max(x1 - x0, 1e-9), sy = size / Math.max(y1 - y0, 1e-9);
  return {
    toCanvas: ([x, y]) => [pad + (x - x0) * sx, pad + (y1 - y) * sy],
    fromCanvas: (cx, cy) => [x0 + (cx - pad) / sx, y1 - (cy - pad) / sy],
  };
}

async function loadMap() {
  const m = await api(`/api/map?method=${encodeURIComponent($("method").value)}`);
  S.map = { ...m, frame: mapFrame(m.points) };
  const ctx = $("map").getContext("2d");
  ctx.clearRect(0, 0, $("map").width, $("map").height);
  const colours = {};
  m.points.forEach((p, i) => {
    const label = m.labels ? m.labels[i] : "";
    if (!(label in colours)) colours[label] = PALETTE[Object.keys(colours).length % PALETTE.length];
    const [cx, cy] = S.map.frame.toCanvas(p);
    ctx.fillStyle = colours[label];
    ctx.fillRect(cx - 1.5, cy - 1.5, 3, 3);
  });
  $("legend").replaceChildren(
    ...Object.entries(colours)
      .filter(([label]) => label !== "")
      .map(([label, colour]) => {
        const item = document.createElement("span");
        item.innerHTML = `<i style="background:${colour}"></i>`;
        item.append(label);
        return item;
      }),
  );
}

function mapEvent(event) {
  const rect = $("map").getBoundingClientRect();
  const scale = $("map").width / rect.width;
  return S.map.frame.fromCanvas((event.clientX - rect.left) * scale, (event.clientY - rect.top) * scale);
}

// ------------------------------------------------------------------ wiring
async function upload(file) {
  if (!file) return;
  status(`encoding ${file.name}…`);
  const query = S.info.condition ? `?condition=${encodeURIComponent(JSON.stringify(S.condition))}` : "";
  const r = await api(`/api/encode${query}`, file);
  setCurrent(r.z, r.input);
  status("ready");
}

async function main() {
  S.info = await api("/api/info");
  $("about").textContent = `${S.info.run}: ${S.info.model} on ${S.info.data}, ${S.info.latent_dim} latents`;
  $("sampler").replaceChildren(...S.info.samplers.map((s) => new Option(s, s)));
  buildDims();
  buildCondition();
  for (const name of S.info.attributes) addEdit(name, null);
  const note = (text) => {
    const p = document.createElement("p");
    p.className = "hint";
    p.textContent = text;
    $("attributes").replaceChildren(p);
  };
  if (S.info.condition) {
    const what = S.info.condition.kind === "label" ? "class" : "attributes";
    note(`This model is conditioned on its ${what}: change the condition under Current point. Make your own slider below.`);
  } else if (!S.info.attributes.length) note("This data set has no labels or attributes; make your own below.");

  $("reset").addEventListener("click", () => setCurrent(S.base));
  $("set-a").addEventListener("click", () => setEnd("A"));
  $("set-b").addEventListener("click", () => setEnd("B"));
  $("temperature").addEventListener("input", () => {
    $("temperature-value").textContent = Number($("temperature").value).toFixed(2);
    loadSamples();
  });
  $("sampler").addEventListener("change", loadSamples);
  $("reseed").addEventListener("click", () => {
    S.seed += 1;
    loadSamples();
  });
  $("add-a").addEventListener("click", () => ($("count-a").textContent = S.groups[0].push(current())));
  $("add-b").addEventListener("click", () => ($("count-b").textContent = S.groups[1].push(current())));
  $("make-attribute").addEventListener("click", async () => {
    if (!S.groups[0].length || !S.groups[1].length) return status("put at least one point into each group first", true);
    const r = await api("/api/difference", { a: S.groups[0], b: S.groups[1] });
    S.customs += 1;
    addEdit(`custom ${S.customs}`, r.vector);
    S.groups = [[], []];
    $("count-a").textContent = $("count-b").textContent = "0";
  });
  $("mode").addEventListener("change", strip);
  $("extrapolate").addEventListener("change", strip);
  $("scrub").addEventListener("input", scrub);
  $("method").addEventListener("change", () => loadMap().then(() => status("ready")));
  $("map").addEventListener("mousemove", (e) => {
    if (!S.map) return;
    showHover(mapEvent(e));
    $("hover-label").textContent = "under the cursor";
  });
  $("map").addEventListener("click", async (e) => {
    if (!S.map) return;
    const [x, y] = mapEvent(e);
    setCurrent((await api("/api/map/point", conditioned({ x, y, method: $("method").value }))).z);
  });
  $("upload").addEventListener("change", () => upload($("upload").files[0]));
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    upload(e.dataTransfer.files[0]);
  });

  const first = await api("/api/example?index=0");
  showCondition(first.condition);
  setCurrent(first.z, first.input);
  await Promise.all([loadSamples(), loadMap()]);
  status("ready");
}

main().catch((e) => status(`could not start: ${e.message}`, true));
