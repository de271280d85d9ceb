// The page: upload an image (drop, file picker or a sample), draw the detections, filter by score.
// One request per image, asking for every detection above 0.05; the slider filters them here.
"use strict";

const REQUEST_THRESHOLD = 0.05;
const state = { image: null, detections: [], classNames: [] };
const $ = (id) => document.getElementById(id);

function colour(classId) {
  // the golden-ratio hue steps of detect/draw.py's class_color
  const hue = (classId * 0.618033988749895) % 1.0;
  return `hsl(${Math.round(hue * 360)}, 80%, 50%)`;
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

function visible() {
  const threshold = parseFloat($("threshold").value);
  return state.detections.filter((d) => d.score >= threshold);
}

function render() {
  $("threshold-value").textContent = parseFloat($("threshold").value).toFixed(2);
  const canvas = $("canvas");
  const body = $("detections").querySelector("tbody");
  body.innerHTML = "";
  if (!state.image) return;
  canvas.width = state.image.naturalWidth;
  canvas.height = state.image.naturalHeight;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(state.image, 0, 0);
  const width = Math.max(2, Math.round(Math.min(canvas.width, canvas.height) / 200));
  ctx.font = `${Math.max(12, width * 6)}px sans-serif`;
  visible().forEach((d, i) => {
    const [x1, y1, x2, y2] = d.box;
    ctx.strokeStyle = ctx.fillStyle = colour(d.class_id);
    ctx.lineWidth = width;
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    const label = `${d.class_name} ${d.score.toFixed(2)}`;
    const h = parseInt(ctx.font, 10) + 4;
    const top = y1 - h >= 0 ? y1 - h : y1;
    ctx.fillRect(x1, top, ctx.measureText(label).width + 6, h);
    ctx.fillStyle = "black";
    ctx.fillText(label, x1 + 3, top + h - 4);
    const row = body.insertRow();
    row.className = "detection";
    row.insertCell().textContent = i + 1;
    const name = row.insertCell();
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = colour(d.class_id);
    name.append(swatch, d.class_name);
    row.insertCell().textContent = d.score.toFixed(3);
    row.insertCell().textContent = d.box.map((v) => v.toFixed(1)).join(", ");
  });
  canvas.dataset.boxes = String(visible().length);
}

async function detect(blob) {
  setStatus("detecting…");
  const form = new FormData();
  form.append("image", blob, "upload");
  form.append("threshold", String(REQUEST_THRESHOLD));
  const response = await fetch("/api/v1/detect", { method: "POST", body: form });
  const answer = await response.json();
  if (!response.ok) {
    setStatus(`error ${response.status}: ${answer.error}`, true);
    return;
  }
  const image = new Image();
  image.onload = () => {
    state.image = image;
    state.detections = answer.detections;
    setStatus(`${answer.width}×${answer.height}, ${answer.detections.length} detections above ` +
              `${REQUEST_THRESHOLD} in ${answer.time_ms} ms`);
    render();
  };
  image.src = URL.createObjectURL(blob);
}

async function loadSample(name) {
  const response = await fetch(`/samples/${encodeURIComponent(name)}`);
  await detect(await response.blob());
}

function setUp() {
  const drop = $("drop");
  ["dragenter", "dragover"].forEach((e) => drop.addEventListener(e, (ev) => {
    ev.preventDefault();
    drop.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((e) => drop.addEventListener(e, (ev) => {
    ev.preventDefault();
    drop.classList.remove("over");
  }));
  drop.addEventListener("drop", (ev) => {
    if (ev.dataTransfer.files.length) detect(ev.dataTransfer.files[0]);
  });
  $("file").addEventListener("change", (ev) => {
    if (ev.target.files.length) detect(ev.target.files[0]);
  });
  $("threshold").addEventListener("input", render);
  fetch("/api/v1/model").then((r) => r.json()).then((m) => {
    state.classNames = m.class_names;
    $("model-name").textContent = m.model;
    document.title = `${m.model} — SSD detector`;
    $("model-info").textContent = `${m.network || "converted"} at ${m.input_size}×${m.input_size}, ` +
      `classes ${m.class_names.join(", ")}`;
    $("threshold").value = m.default_threshold;
    render();
  });
  fetch("/api/v1/samples").then((r) => r.json()).then((s) => {
    $("samples").hidden = s.samples.length === 0;
    s.samples.forEach((name) => {
      const img = document.createElement("img");
      img.src = `/samples/${encodeURIComponent(name)}`;
      img.alt = name;
      img.title = name;
      img.addEventListener("click", () => loadSample(name));
      $("gallery").append(img);
    });
  });
}

setUp();
