// Liveness step: camera -> canvas -> JPEG frames posted one at a time; the server answers
// each frame with the current prompt, countdown and status.
"use strict";

(function () {
  const root = document.getElementById("liveness");
  if (!root) { return; }
  const api = window.cardsim;
  const video = document.getElementById("camera");
  const canvas = document.createElement("canvas");
  const startButton = document.getElementById("liveness-start");
  const retryButton = document.getElementById("liveness-retry");
  const cameraMessage = document.getElementById("camera-message");
  const promptEl = document.getElementById("liveness-prompt");
  const countdownEl = document.getElementById("liveness-countdown");
  const hintEl = document.getElementById("liveness-hint");
  const progressEl = document.getElementById("liveness-progress");
  const resultEl = document.getElementById("liveness-result");
  const guide = document.getElementById("face-guide");
  const stage = document.getElementById("camera-stage");
  const FRAME_INTERVAL_MS = 110;   // about 9 frames per second, well under the server limit (25/s)
  const JPEG_QUALITY = 0.7;
  // The session's own status text for a finished session speaks of liveness (API clients
  // read that); applicants know the step as the camera check.
  const FINISHED_TEXT = { passed: "Camera check passed", failed: "Camera check failed" };
  const MAX_WIDTH = 640;
  let stream = null;
  let running = false;

  function cameraErrorMessage(err) {
    const name = err && err.name;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      return "This browser cannot use a camera here. Open the page over https (or on localhost) in a current browser.";
    }
    if (name === "NotAllowedError" || name === "SecurityError") {
      return "Camera access was denied. Allow the camera for this site (the camera icon in the address bar, or your browser's site settings), then press \u201cTry again\u201d.";
    }
    if (name === "NotFoundError" || name === "OverconstrainedError" || name === "DevicesNotFoundError") {
      return "No camera was found. Connect a webcam (or use a phone with a front camera), then press \u201cTry again\u201d.";
    }
    if (name === "NotReadableError" || name === "TrackStartError") {
      return "The camera is busy in another application. Close video calls or other camera apps, then press \u201cTry again\u201d.";
    }
    return "The camera could not be started (" + (name || "unknown error") + "). Press \u201cTry again\u201d.";
  }

  async function openCamera() {
    if (stream) { return true; }
    try {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        throw new Error("no mediaDevices");
      }
      stream = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" },
        audio: false,
      });
      video.srcObject = stream;
      await video.play();
      api.show(cameraMessage, false);
      api.show(stage, true);
      return true;
    } catch (err) {
      api.setText(cameraMessage, cameraErrorMessage(err));
      cameraMessage.dataset.error = (err && err.name) || "unavailable";
      api.show(cameraMessage, true);
      api.show(retryButton, true);
      retryButton.textContent = "Try again";
      return false;
    }
  }

  function captureJpeg() {
    const w = video.videoWidth || 640;
    const h = video.videoHeight || 480;
    const scale = Math.min(1, MAX_WIDTH / w);
    canvas.width = Math.round(w * scale);
    canvas.height = Math.round(h * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    return new Promise(function (resolve) { canvas.toBlob(resolve, "image/jpeg", JPEG_QUALITY); });
  }

  function render(status) {
    const s = status.liveness || {};
    const finished = FINISHED_TEXT[s.status];
    api.setText(promptEl, finished || s.prompt_text ||
      (s.face_found ? "Hold still\u2026" : "Look into the camera"));
    promptEl.dataset.prompt = s.prompt || "";
    api.setText(countdownEl, typeof s.seconds_left === "number" && s.prompt ?
      Math.max(0, Math.ceil(s.seconds_left)) + " s" : "");
    api.setText(hintEl, s.hint || "");
    if (typeof s.challenges_total === "number") {
      api.setText(progressEl, "Challenge " + Math.min(s.challenge_index + 1, s.challenges_total) +
        " of " + s.challenges_total);
    }
    guide.classList.toggle("face-ok", !!s.face_found);
  }

  function finish(status) {
    running = false;
    const s = status.liveness || {};
    root.dataset.status = s.status;
    api.show(resultEl, true);
    resultEl.className = "result result-" + s.status;
    if (s.status === "passed") {
      api.setText(resultEl, "Camera check passed. Continuing\u2026");
      window.setTimeout(function () { window.location.assign(status.next_url); }, 800);
      return;
    }
    const reasons = (status.reasons || []).map(function (r) {
      const m = (r.message || r.code || "").trim();
      return m ? m.charAt(0).toUpperCase() + m.slice(1) + (/[.!?]$/.test(m) ? "" : ".") : "";
    }).join(" ");
    api.setText(document.getElementById("attempts-left"), String(status.attempts_left));
    let text = "The camera check did not pass. " + reasons;
    if (status.attempts_left > 0) {
      text += " You can try " + status.attempts_left + " more time" + (status.attempts_left > 1 ? "s" : "") + ".";
      api.show(retryButton, true);
      retryButton.textContent = "Retry the camera check";
    } else {
      text += " No attempts are left.";
      if (status.next_url) {
        window.setTimeout(function () { window.location.assign(status.next_url); }, 2500);
      }
    }
    api.setText(resultEl, text);
  }

  async function frameLoop() {
    while (running) {
      const started = performance.now();
      const blob = await captureJpeg();
      if (!running) { break; }
      try {
        const status = await api.post(root.dataset.frameUrl, blob, {
          "Content-Type": "image/jpeg", "X-Client-Timestamp": String(Date.now()),
        });
        render(status);
        if (status.liveness && status.liveness.status !== "in_progress") {
          finish(status);
          break;
        }
      } catch (err) {
        if (err.status === 422 && err.code && err.code.indexOf("frame") >= 0) {
          api.setText(hintEl, err.message);    // one bad frame: keep going
        } else if ((err.status === 429 || err.status === 503) && err.retryAfter !== null &&
                   err.retryAfter <= 10) {
          // Too many frames, or the session store is briefly away: the frame changed nothing,
          // so wait as told and go on (the session's own time limits still apply).
          api.setText(hintEl, "Just a moment\u2026");
          await new Promise(function (r) { window.setTimeout(r, err.retryAfter * 1000); });
          continue;
        } else {
          running = false;
          api.show(resultEl, true);
          resultEl.className = "result result-failed";
          api.setText(resultEl, err.message);
          api.show(retryButton, true);
          break;
        }
      }
      const wait = FRAME_INTERVAL_MS - (performance.now() - started);
      if (wait > 0) { await new Promise(function (r) { window.setTimeout(r, wait); }); }
    }
  }

  async function start() {
    api.show(startButton, false);
    api.show(retryButton, false);
    api.show(resultEl, false);
    if (!(await openCamera())) { return; }
    try {
      const status = await api.post(root.dataset.startUrl, {});
      render(status);
      root.dataset.status = "in_progress";
      running = true;
      frameLoop();
    } catch (err) {
      api.show(resultEl, true);
      resultEl.className = "result result-failed";
      api.setText(resultEl, err.message);
      if (err.body && err.body.next_url) {
        window.setTimeout(function () { window.location.assign(err.body.next_url); }, 2500);
      }
    }
  }

  startButton.addEventListener("click", start);
  retryButton.addEventListener("click", start);
})();
