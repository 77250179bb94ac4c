// Gate scanner: keyboard-wedge scanners (type + Enter), typed codes, and the camera: the browser's
// BarcodeDetector where it has one, else jsQR (npm package, served by the server when installed: iOS Safari,
// Firefox and desktop Chrome have no BarcodeDetector). Scans go to /gate/scan as JSON; the server answers with
// the result already translated. Without this script the form still posts and the page shows the result.

const cfg = JSON.parse(document.getElementById("gate-config").textContent);
const form = document.getElementById("gate-form");
const input = document.getElementById("gate-raw");
const box = document.getElementById("gate-result-box");
const recentList = document.getElementById("gate-recent-list");
const soundBtn = document.getElementById("gate-sound");
const cameraBtn = document.getElementById("gate-camera");
const dismissBtn = document.getElementById("gate-dismiss");
const video = document.getElementById("gate-video");

const CLEAR_OK_MS = 2500; // a green result clears itself; a red one stays until the next scan
const REPEAT_MS = 3000; // the same code read again within this time is ignored (no second beep)
const IN_VIEW_GAP_MS = 1500; // the camera lost sight of a code for longer than this: showing it again is a new scan
let last = { raw: "", at: 0 };
let clearTimer = 0;
let busy = false;

// ---- focus: the input always takes the scanner's keystrokes ----
function refocus() {
  if (document.activeElement !== input && !document.querySelector("dialog[open]")) {
    input.focus({ preventScroll: true });
  }
}
input.addEventListener("blur", () => setTimeout(refocus, 150));
document.addEventListener("click", (e) => {
  if (!e.target.closest("a, input[type=checkbox], select")) setTimeout(refocus, 0);
});
document.addEventListener("visibilitychange", () => { if (!document.hidden) refocus(); });

// ---- sound: one high beep to admit, two low tones to refuse; the mute choice persists ----
let audio = null;
let muted = localStorage.getItem("gate.muted") === "1";
function renderSound() {
  soundBtn.textContent = muted ? cfg.soundOff : cfg.soundOn;
  soundBtn.setAttribute("aria-pressed", String(!muted));
}
soundBtn.hidden = !("AudioContext" in window || "webkitAudioContext" in window);
renderSound();
soundBtn.addEventListener("click", () => {
  muted = !muted;
  localStorage.setItem("gate.muted", muted ? "1" : "0");
  renderSound();
});
function tone(freq, start, length) {
  const osc = audio.createOscillator();
  const gain = audio.createGain();
  osc.type = "square";
  osc.frequency.value = freq;
  gain.gain.setValueAtTime(0.15, audio.currentTime + start);
  gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + start + length);
  osc.connect(gain).connect(audio.destination);
  osc.start(audio.currentTime + start);
  osc.stop(audio.currentTime + start + length + 0.02);
}
function beep(ok) {
  if (muted) return;
  try {
    audio = audio || new (window.AudioContext || window.webkitAudioContext)();
    if (ok) tone(1320, 0, 0.12);
    else { tone(220, 0, 0.18); tone(180, 0.24, 0.28); }
  } catch (_) { /* no audio: the screen still says it */ }
  if (navigator.vibrate) navigator.vibrate(ok ? 60 : [120, 80, 220]);
}

// ---- showing results ----
function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}
function showResult(r) {
  clearTimeout(clearTimer);
  const panel = el("div", { class: `gate-result gate-${r.kind}`, "data-result": r.result });
  const title = el("p", { class: "gate-result-title" });
  title.append(el("span", { class: "gate-icon", "aria-hidden": "true" }, r.icon), " ", el("span", {}, r.title));
  panel.append(title);
  if (r.details && r.details.length) {
    const ul = el("ul", { class: "gate-details" });
    for (const d of r.details) ul.append(el("li", {}, d));
    panel.append(ul);
  }
  if (r.entitlements && r.entitlements.length) {
    const parts = el("ul", { class: "gate-passparts", "aria-label": cfg.passParts });
    for (const e of r.entitlements) {
      const cls = ["gate-part"];
      if (e.done) cls.push("gate-part-done");
      if (e.this) cls.push("gate-part-this");
      const li = el("li", { class: cls.join(" ") });
      li.append(el("span", { class: "gate-part-label" }, e.label), " ", el("span", { class: "gate-part-use" }, e.use));
      if (e.mark) li.append(" ", el("strong", { class: "gate-part-mark" }, e.mark));
      parts.append(li);
    }
    panel.append(parts);
  }
  if (r.code) panel.append(el("p", { class: "gate-code mono" }, r.code));
  box.replaceChildren(panel);
  dismissBtn.hidden = !!r.admitted;
  if (r.admitted) clearTimer = setTimeout(showIdle, CLEAR_OK_MS);
}
function showIdle() {
  const panel = el("div", { class: "gate-result gate-idle" });
  panel.append(el("p", { class: "gate-result-title" }, cfg.ready));
  box.replaceChildren(panel);
  dismissBtn.hidden = true;
}
dismissBtn.addEventListener("click", showIdle);
function showStatus(s) {
  if (!s) return;
  document.getElementById("gate-in").textContent = s.checked_in;
  document.getElementById("gate-total").textContent = s.tickets;
  const items = s.recent.map((r) => {
    const li = el("li", { class: `gate-${r.kind}` });
    li.append(el("span", { class: "mono" }, r.at), " ", el("span", { "aria-hidden": "true" }, r.icon), ` ${r.title} `,
      el("span", { class: "mono muted" }, r.code));
    return li;
  });
  if (!items.length) items.push(el("li", { class: "muted gate-empty" }, cfg.noScans));
  recentList.replaceChildren(...items);
}

// ---- scanning ----
function clean(raw) {
  // scanners may add prefix/suffix control characters; the server strips them too
  return raw.replace(/[\u0000-\u001f\u007f]/g, "").trim();
}
async function submit(raw) {
  raw = clean(raw);
  if (!raw || busy) return;
  const now = Date.now();
  if (raw === last.raw && now - last.at < REPEAT_MS) { input.value = ""; return; }
  last = { raw, at: now };
  busy = true;
  input.value = "";
  try {
    const res = await fetch("/gate/scan", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": cfg.csrf, Accept: "application/json" },
      body: JSON.stringify({ raw }),
      credentials: "same-origin",
    });
    const body = await res.json().catch(() => ({}));
    if (res.ok) {
      showResult(body);
      beep(body.admitted);
      showStatus(body.status);
    } else {
      showResult({ kind: "deny", icon: "!", title: body.message || res.statusText, details: [], result: body.code || "error" });
      beep(false);
      last = { raw: "", at: 0 }; // an error is not an answer about this ticket: allow an immediate retry
    }
  } catch (_) {
    showResult({ kind: "deny", icon: "!", title: cfg.offline, details: [], result: "offline" });
    beep(false);
    last = { raw: "", at: 0 };
  } finally {
    busy = false;
    refocus();
  }
}
form.addEventListener("submit", (e) => {
  e.preventDefault();
  submit(input.value);
});
// Scanners that send no Enter: a complete signed payload submits itself after a short pause.
let idleTimer = 0;
input.addEventListener("input", () => {
  clearTimeout(idleTimer);
  const v = clean(input.value);
  const parts = v.split(".");
  // Every version the server signs or still reads (cfg.payloadPrefixes); a 64-byte signature is 86 characters.
  if (cfg.payloadPrefixes.some((p) => v.startsWith(p)) && parts.length === 3 && parts[2].length >= 86) {
    idleTimer = setTimeout(() => submit(input.value), 120);
  }
});

// ---- camera: BarcodeDetector, or jsQR on frames drawn into a canvas ----
let stream = null;
let scanning = false;
let jsqrLoading = null;

function loadJsqr() {
  // Loaded on first use only: most gates scan with a wedge scanner and never need its 250 kB.
  jsqrLoading = jsqrLoading || new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = cfg.qrDecoder;
    s.onload = () => (window.jsQR ? resolve(window.jsQR) : reject(new Error("jsQR")));
    s.onerror = reject;
    document.head.appendChild(s);
  });
  return jsqrLoading;
}

async function makeDetector() {
  if ("BarcodeDetector" in window) {
    const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    return async () => {
      const codes = await detector.detect(video);
      return codes.length ? codes[0].rawValue : "";
    };
  }
  const jsQR = await loadJsqr();
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  return async () => {
    if (!video.videoWidth) return "";
    // At most 640 px across: a ticket's QR held up to the camera stays readable, a phone decodes it in time.
    const scale = Math.min(1, 640 / video.videoWidth);
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
    const frame = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const code = jsQR(frame.data, frame.width, frame.height, { inversionAttempts: "dontInvert" });
    return code ? code.data : "";
  };
}

async function startCamera() {
  try {
    const detect = await makeDetector();
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: "environment" } }, audio: false });
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    scanning = true;
    cameraBtn.textContent = cfg.stopCamera;
    // A code that stays in view is one presentation: checked once, not again every few seconds (which would
    // turn a green result red with "already checked in"). Out of view for a moment, then shown again: a new scan.
    let inView = { raw: "", at: 0 };
    const loop = async () => {
      if (!scanning) return;
      try {
        const raw = await detect();
        const now = Date.now();
        if (raw && !(raw === inView.raw && now - inView.at < IN_VIEW_GAP_MS)) await submit(raw);
        if (raw) inView = { raw, at: now };
      } catch (_) { /* a frame that cannot be read: try the next one */ }
      setTimeout(loop, 200);
    };
    loop();
  } catch (_) {
    stopCamera();
    showResult({ kind: "deny", icon: "!", title: cfg.noCamera, details: [], result: "camera" });
  }
}
function stopCamera() {
  scanning = false;
  if (stream) stream.getTracks().forEach((t) => t.stop());
  stream = null;
  video.hidden = true;
  cameraBtn.textContent = cfg.useCamera;
  refocus();
}
const canDecode = "BarcodeDetector" in window || Boolean(cfg.qrDecoder);
if (canDecode && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
  cameraBtn.hidden = false;
  cameraBtn.addEventListener("click", () => (scanning ? stopCamera() : startCamera()));
}

// ---- other gates scan too: refresh the counter and list now and then ----
setInterval(async () => {
  if (document.hidden || busy) return;
  try {
    const res = await fetch("/gate/status.json", { credentials: "same-origin" });
    if (res.ok) showStatus(await res.json());
  } catch (_) { /* offline: the next scan will say so */ }
}, 15000);

refocus();
