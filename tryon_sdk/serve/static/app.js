// The page of `tryon-sdk serve`: plain JS, no external resource. It talks to the HTTP API
// (docs/serve.md): POST /api/parse for photos, POST /api/recolor for recolours, POST /api/jobs
// + GET /api/jobs/{id} for videos. document.body.dataset.state tells tests where it is.
"use strict";

const $ = (id) => document.getElementById(id);
const VIDEO_EXT = /\.(mp4|m4v|mov|webm|mkv|avi|mpe?g|ogv)$/i;
let info = null;      // GET /api/info
// The overlay video's format: H.264 MP4 where this browser plays it, else VP9 WebM; ?video=webm forces one.
const videoFormat = (() => {
  const asked = new URLSearchParams(location.search).get("video");
  if (asked === "mp4" || asked === "webm") return asked;
  const probe = document.createElement("video");
  if (probe.canPlayType('video/mp4; codecs="avc1.640028"')) return "mp4";
  return probe.canPlayType('video/webm; codecs="vp9"') ? "webm" : "mp4";
})();
let photo = null;     // the last POST /api/parse answer
let poll = null;      // the video job's status timer
let recolorSeq = 0;   // answers of older recolour requests are dropped
const urls = [];      // object URLs to release on the next upload

function setState(state) { document.body.dataset.state = state; }
function status(text) { $("status").textContent = text; }

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
  status("");
  setState("error");
}

function clearError() { $("error").hidden = true; $("error").textContent = ""; }

async function api(url, options) {
  let response;
  try {
    response = await fetch(url, options);
  } catch (e) {
    throw new Error(`the server cannot be reached (${e.message})`);
  }
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) {
    const message = body && body.error ? body.error : `${response.status} ${response.statusText}`;
    const err = new Error(message);
    err.status = response.status;
    throw err;
  }
  return body;
}

function pngUrl(b64) { return `data:image/png;base64,${b64}`; }

function blobUrl(b64, type = "image/png") {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  urls.push(url);
  return url;
}

function releaseUrls() { while (urls.length) URL.revokeObjectURL(urls.pop()); }

function stem(name) { return name.replace(/\.[^.]*$/, "") || "photo"; }

function format(value) {
  if (value === null || value === undefined) return "–";
  if (Array.isArray(value)) return value.map(format).join(",");
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toFixed(3);
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function fillPeople(table, people) {
  table.textContent = "";
  if (!people || !people.length) {
    table.innerHTML = "<tr><td>nobody found</td></tr>";
    return;
  }
  const keys = Object.keys(people[0]).filter((k) => people.some((p) => p[k] !== null && p[k] !== undefined));
  const head = table.insertRow();
  ["#", ...keys].forEach((k) => { const th = document.createElement("th"); th.textContent = k; head.appendChild(th); });
  people.forEach((p, i) => {
    const row = table.insertRow();
    row.className = "person";
    row.insertCell().textContent = String(i + 1);
    keys.forEach((k) => { const cell = row.insertCell(); cell.textContent = format(p[k]); cell.dataset.key = k; });
  });
}

function link(list, name, href, id) {
  const li = document.createElement("li");
  const a = document.createElement("a");
  a.href = href;
  a.download = name;
  a.textContent = name;
  if (id) a.id = id;
  li.appendChild(a);
  list.appendChild(li);
}

// ------------------------------------------------------------------ photos
function photoDownloads() {
  const list = $("downloads");
  list.textContent = "";
  const base = stem(photo.filename);
  link(list, `${base}-labels.png`, blobUrl(photo.labels_png), "download-labels");
  link(list, `${base}-overlay.png`, blobUrl(photo.overlay_png), "download-overlay");
  link(list, `${base}-recolor-${photo.region}.png`, blobUrl(photo.recolor_png), "download-recolor");
  for (const [region, b64] of Object.entries(photo.alphas)) {
    link(list, `${base}-alpha_${region}.png`, blobUrl(b64), `download-alpha-${region}`);
  }
  for (const [category, b64] of Object.entries(photo.agnostic)) {
    link(list, `${base}-agnostic_${category}.png`, blobUrl(b64), `download-agnostic-${category}`);
  }
}

function showRegion() {
  $("recolor").src = pngUrl(photo.recolor_png);
  $("recolor-caption").textContent = `${photo.region} → ${photo.color}`;
  const alpha = photo.alphas[photo.region];
  if (alpha) $("alpha").src = pngUrl(alpha);
  $("alpha-caption").textContent = photo.region;
}

async function parsePhoto(file) {
  $("video").hidden = true;
  $("photo").hidden = false;
  $("original").src = URL.createObjectURL(file);
  urls.push($("original").src);
  for (const id of ["overlay", "recolor", "alpha"]) $(id).removeAttribute("src");
  $("people").textContent = "";
  $("downloads").textContent = "";
  status(`parsing ${file.name}…`);
  setState("parsing");
  const form = new FormData();
  form.append("file", file);
  form.append("region", $("region").value);
  form.append("color", $("color").value);
  const t0 = performance.now();
  photo = await api("/api/parse", { method: "POST", body: form });
  photo.filename = file.name;
  $("overlay").src = pngUrl(photo.overlay_png);
  showRegion();
  fillPeople($("people"), photo.people);
  photoDownloads();
  const n = photo.people.length;
  status(`${file.name}: ${photo.width}×${photo.height}, ${n} ${n === 1 ? "person" : "people"}, ` +
         `${Math.round(performance.now() - t0)} ms (parse ${Math.round(photo.timings_ms.parse)} ms)`);
  setState("parsed");
}

async function recolor() {
  if (!photo || $("photo").hidden) return;
  const seq = ++recolorSeq;
  const form = new FormData();
  form.append("id", photo.id);
  form.append("region", $("region").value);
  form.append("color", $("color").value);
  setState("recoloring");
  try {
    const body = await api("/api/recolor", { method: "POST", body: form });
    if (seq !== recolorSeq) return;
    photo.region = body.region;
    photo.color = body.color;
    photo.recolor_png = body.recolor_png;
    photo.alphas[body.region] = body.alpha_png;
    showRegion();
    photoDownloads();
    document.body.dataset.recolors = String(seq);
    setState("recolored");
  } catch (e) {
    if (seq === recolorSeq) showError(e.message);
  }
}

// ------------------------------------------------------------------ videos
function stopPolling() { if (poll) { clearTimeout(poll); poll = null; } }

function showJob(job) {
  const total = job.frames_total;
  $("progress").value = job.progress === null ? 0 : job.progress;
  if (job.progress === null) $("progress").removeAttribute("value");
  $("progress-text").textContent = job.status === "done"
    ? `done: ${job.frames_done} frames in ${job.seconds} s${job.warning ? ` (${job.warning})` : ""}`
    : `${job.status}: ${job.frames_done}${total ? ` / ${total}` : ""} frames`;
  fillPeople($("video-people"), job.people);
}

async function startJob(file) {
  $("photo").hidden = true;
  $("video").hidden = false;
  $("source").src = URL.createObjectURL(file);
  urls.push($("source").src);
  $("result").removeAttribute("src");
  $("video-downloads").textContent = "";
  $("video-people").textContent = "";
  $("result-caption").textContent = `${$("composite").selectedOptions[0].text} (when the job is done)`;
  status(`uploading ${file.name}…`);
  setState("uploading");
  const form = new FormData();
  form.append("file", file);
  form.append("region", $("region").value);
  form.append("color", $("color").value);
  form.append("composite", $("composite").value);
  form.append("video_format", videoFormat);
  let job = await api("/api/jobs", { method: "POST", body: form });
  status(`parsing ${file.name}…`);
  setState("job-running");
  showJob(job);
  const step = async () => {
    try {
      job = await api(`/api/jobs/${job.id}`);
    } catch (e) {
      stopPolling();
      showError(e.message);
      return;
    }
    showJob(job);
    if (job.status === "done") {
      stopPolling();
      const base = stem(file.name);
      const overlay = `overlay.${videoFormat}`;
      $("result").src = job.files[overlay];
      $("result-caption").textContent = $("composite").selectedOptions[0].text;
      link($("video-downloads"), `${base}-${overlay}`, job.files[overlay], "download-video");
      link($("video-downloads"), `${base}-masks.zip`, job.files["masks.zip"], "download-zip");
      status(`${file.name}: ${job.frames_done} frames parsed`);
      setState("job-done");
    } else {
      poll = setTimeout(step, 400);
    }
  };
  poll = setTimeout(step, 300);
}

// ------------------------------------------------------------------ wiring
async function onFile() {
  const file = $("file").files[0];
  if (!file) return;
  stopPolling();
  releaseUrls();
  clearError();
  photo = null;
  const limit = info ? info.limits.max_upload_mb * 1024 * 1024 : Infinity;
  if (file.size === 0) return showError(`${file.name}: the file is empty`);
  if (file.size > limit) {
    return showError(`${file.name} is ${(file.size / 2 ** 20).toFixed(1)} MB; this server takes up to ${info.limits.max_upload_mb} MB`);
  }
  const isVideo = file.type.startsWith("video/") || (!file.type.startsWith("image/") && VIDEO_EXT.test(file.name));
  try {
    await (isVideo ? startJob(file) : parsePhoto(file));
  } catch (e) {
    showError(e.message);
  }
}

async function init() {
  try {
    info = await api("/api/info");
  } catch (e) {
    showError(`cannot load the server's settings: ${e.message}`);
    return;
  }
  const m = info.model;
  $("model").textContent = `tryon_sdk ${info.version} · ${m.architecture}/${m.backbone} ${m.input_size.join("×")} · ${m.runtime} on ${m.device}`;
  for (const region of info.regions) {
    const option = document.createElement("option");
    option.value = option.textContent = region;
    $("region").appendChild(option);
  }
  $("region").value = info.defaults.region;
  $("color").value = info.defaults.color;
  const legend = $("legend");
  for (const c of info.classes) {
    const li = document.createElement("li");
    li.innerHTML = `<i style="background:${c.color}"></i>`;
    li.appendChild(document.createTextNode(`${c.id} ${c.name}`));
    legend.appendChild(li);
  }
  $("file").addEventListener("change", onFile);
  $("region").addEventListener("change", recolor);
  $("color").addEventListener("change", recolor);
  let typing = null;  // the colour picker fires "input" while it is dragged: recolour when it rests
  $("color").addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(recolor, 150); });
  setState("ready");
}

init();
