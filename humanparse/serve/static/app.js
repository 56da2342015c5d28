// The humanparse page: send a photo to POST /v1/parse?format=json, draw the label map over it in a canvas.
// The label PNG comes back base64-encoded; its palette colours are mapped back to class indices here.
"use strict";

const KEY_STORAGE = "humanparse.apiKey";
const $ = (id) => document.getElementById(id);

const state = {
  model: null,        // GET /v1/model
  colourToClass: null, // Map of 0xRRGGBB -> class index
  name: "photo",
  width: 0,
  height: 0,
  photo: null,         // ImageData of the photo at the label size
  labels: null,        // Uint8Array, one class index per pixel
  labelPng: null,      // Blob of the server's label PNG
  present: [],         // [{index, name, pixels, color}]
  shown: new Set(),
};

function authHeaders() {
  const key = localStorage.getItem(KEY_STORAGE);
  return key ? { Authorization: `Bearer ${key}` } : {};
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

async function errorText(response) {
  try {
    return (await response.json()).error || response.statusText;
  } catch (_) {
    return response.statusText;
  }
}

async function loadModel() {
  const response = await fetch("/v1/model", { headers: authHeaders() });
  if (response.status === 401) {
    $("key-form").hidden = false;
    $("model-name").textContent = "API key needed";
    setStatus("This server needs an API key: enter it above.", true);
    return;
  }
  if (!response.ok) {
    setStatus(`Cannot read the model: ${await errorText(response)}`, true);
    return;
  }
  state.model = await response.json();
  state.colourToClass = new Map(state.model.palette.map(([r, g, b], index) => [(r << 16) | (g << 8) | b, index]));
  $("model-name").textContent = `${state.model.name} · ${state.model.num_classes} classes`;
  $("key-form").hidden = true;
  setStatus("Choose or drop a photo of a person.");
}

function imageFrom(blob) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error("the browser cannot show this image"));
    image.src = URL.createObjectURL(blob);
  });
}

function pixelsOf(image, width, height) {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.imageSmoothingEnabled = false;
  context.drawImage(image, 0, 0, width, height);
  return context.getImageData(0, 0, width, height);
}

function base64Blob(data, type) {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  return new Blob([bytes], { type });
}

async function parse(file) {
  if (!state.model) await loadModel();
  if (!state.model) return;
  state.name = (file.name || "photo").replace(/\.[^.]*$/, "") || "photo";
  $("result").dataset.ready = "false";
  setStatus(`Parsing ${file.name || "the photo"}…`);
  const started = performance.now();
  const response = await fetch("/v1/parse?format=json", {
    method: "POST",
    headers: { "Content-Type": file.type || "application/octet-stream", ...authHeaders() },
    body: file,
  });
  if (!response.ok) {
    setStatus(`The server refused the photo (${response.status}): ${await errorText(response)}`, true);
    return;
  }
  const answer = await response.json();
  const seconds = (performance.now() - started) / 1000;
  state.width = answer.width;
  state.height = answer.height;
  state.labelPng = base64Blob(answer.labels.data, "image/png");
  const [photo, labelImage] = await Promise.all([imageFrom(file), imageFrom(state.labelPng)]);
  $("photo").src = photo.src;
  state.photo = pixelsOf(photo, answer.width, answer.height);
  const rgba = pixelsOf(labelImage, answer.width, answer.height).data;
  state.labels = new Uint8Array(answer.width * answer.height);
  for (let i = 0; i < state.labels.length; i++) {
    const colour = (rgba[4 * i] << 16) | (rgba[4 * i + 1] << 8) | rgba[4 * i + 2];
    state.labels[i] = state.colourToClass.get(colour) ?? 0;
  }
  state.present = answer.classes;
  state.shown = new Set(answer.classes.map((c) => c.index).filter((index) => index !== 0));
  buildLegend();
  render();
  $("result").hidden = false;
  $("drop").classList.add("compact");
  $("result").dataset.ready = "true";
  setStatus(`${answer.width}×${answer.height} px · ${answer.classes.length} classes · ${seconds.toFixed(2)} s`);
}

function buildLegend() {
  const total = state.width * state.height;
  const legend = $("legend");
  legend.replaceChildren();
  for (const item of state.present) {
    const row = document.createElement("li");
    row.dataset.index = item.index;
    row.title = "click to hide or show";
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = `rgb(${item.color.join(",")})`;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = item.name.replace(/_/g, " ");
    const share = document.createElement("span");
    share.className = "share";
    const percent = (100 * item.pixels) / total;
    share.textContent = percent < 0.1 ? "<0.1%" : `${percent.toFixed(1)}%`;
    row.append(swatch, name, share);
    row.addEventListener("click", () => {
      if (state.shown.has(item.index)) state.shown.delete(item.index);
      else state.shown.add(item.index);
      render();
    });
    legend.append(row);
  }
}

function render() {
  for (const row of $("legend").children) row.classList.toggle("off", !state.shown.has(Number(row.dataset.index)));
  const alpha = Number($("opacity").value) / 100;
  $("opacity-value").textContent = `${Math.round(alpha * 100)}%`;
  const canvas = $("overlay");
  canvas.width = state.width;
  canvas.height = state.height;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  const out = context.createImageData(state.width, state.height);
  const photo = state.photo.data;
  const palette = state.model.palette;
  const shown = new Uint8Array(256);
  for (const index of state.shown) shown[index] = 1;
  for (let i = 0, p = 0; i < state.labels.length; i++, p += 4) {
    const label = state.labels[i];
    if (shown[label]) {
      const colour = palette[label];
      out.data[p] = photo[p] * (1 - alpha) + colour[0] * alpha;
      out.data[p + 1] = photo[p + 1] * (1 - alpha) + colour[1] * alpha;
      out.data[p + 2] = photo[p + 2] * (1 - alpha) + colour[2] * alpha;
    } else {
      out.data[p] = photo[p];
      out.data[p + 1] = photo[p + 1];
      out.data[p + 2] = photo[p + 2];
    }
    out.data[p + 3] = 255;
  }
  context.putImageData(out, 0, 0);
}

function download(blob, filename) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

function maskBlob() {
  const canvas = document.createElement("canvas");
  canvas.width = state.width;
  canvas.height = state.height;
  const context = canvas.getContext("2d");
  const mask = context.createImageData(state.width, state.height);
  for (let i = 0, p = 0; i < state.labels.length; i++, p += 4) {
    const value = state.shown.has(state.labels[i]) ? 255 : 0;
    mask.data[p] = mask.data[p + 1] = mask.data[p + 2] = value;
    mask.data[p + 3] = 255;
  }
  context.putImageData(mask, 0, 0);
  return new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
}

function setUp() {
  const drop = $("drop");
  const input = $("file");
  $("choose").addEventListener("click", (event) => {
    event.stopPropagation();
    input.click();
  });
  drop.addEventListener("click", () => input.click());
  drop.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") input.click();
  });
  input.addEventListener("change", () => input.files[0] && parse(input.files[0]).catch((e) => setStatus(e.message, true)));
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (event) => {
      event.preventDefault();
      drop.classList.add("over");
    });
  }
  for (const type of ["dragleave", "drop"]) drop.addEventListener(type, () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    const file = event.dataTransfer.files[0];
    if (file) parse(file).catch((e) => setStatus(e.message, true));
  });
  $("opacity").addEventListener("input", () => state.labels && render());
  $("show-all").addEventListener("click", () => {
    state.shown = new Set(state.present.map((c) => c.index));
    render();
  });
  $("show-none").addEventListener("click", () => {
    state.shown.clear();
    render();
  });
  $("download-labels").addEventListener("click", () => download(state.labelPng, `${state.name}_labels.png`));
  $("download-mask").addEventListener("click", async () => download(await maskBlob(), `${state.name}_mask.png`));
  $("download-overlay").addEventListener("click", () =>
    $("overlay").toBlob((blob) => download(blob, `${state.name}_overlay.png`), "image/png"),
  );
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    localStorage.setItem(KEY_STORAGE, $("api-key").value.trim());
    loadModel();
  });
  loadModel();
}

setUp();
