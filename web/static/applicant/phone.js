// The emulated phone panel: device profile picker, the trusted-UI screen, the physical
// confirm button and the PIN pad. It talks only to /device/... (the phone), never to the
// issuer; the step scripts carry messages between the phone and the issuer.
"use strict";

window.cardsimPhone = (function () {
  const panel = document.getElementById("phone");
  if (!panel) { return null; }
  const api = window.cardsim;
  const base = panel.dataset.deviceBase;
  const STORAGE_KEY = "cardsim.phone.device";
  const screenTitle = document.getElementById("phone-screen-title");
  const screenText = document.getElementById("phone-screen-text");
  const profileBox = document.getElementById("phone-setup");
  const profileSelect = document.getElementById("phone-profile");
  const createButton = document.getElementById("phone-create");
  const confirmButton = document.getElementById("phone-confirm-button");
  const pinPad = document.getElementById("phone-pinpad");
  const pinDisplay = document.getElementById("phone-pin-display");
  const deviceLabel = document.getElementById("phone-device-label");
  let deviceId = window.localStorage.getItem(STORAGE_KEY);
  let pendingConfirm = null;
  let pendingPin = null;
  let pinDigits = "";

  function screen(title, text) {
    api.setText(screenTitle, title);
    api.setText(screenText, text || "");
  }

  function url(path) { return base + "/" + encodeURIComponent(deviceId) + path; }

  function labelDevice(state) {
    api.setText(deviceLabel, state ? state.profile + " phone \u00b7 " + state.device_id.slice(0, 8) : "");
    panel.dataset.deviceId = deviceId || "";
  }

  async function loadDevice() {
    if (!deviceId) { return null; }
    try {
      const state = await api.get(url(""));
      labelDevice(state);
      return state;
    } catch (err) {
      if (err.status === 404) {
        window.localStorage.removeItem(STORAGE_KEY);
        deviceId = null;
        return null;
      }
      throw err;
    }
  }

  const SETUP_TEXT = "Choose the kind of phone to emulate and press \u201cUse this phone\u201d.";
  let creating = null;
  let readyButton = null;

  // Bring the phone into view (it sits below the page on narrow screens) when it needs the
  // user's hand; `target` gets the keyboard focus.
  function reveal(target) {
    const still = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    panel.scrollIntoView({ block: "nearest", behavior: still ? "auto" : "smooth" });
    if (target) { target.focus({ preventScroll: true }); }
  }

  function showReady() {
    const label = readyButton && !readyButton.hidden ? readyButton.textContent.trim() : "";
    screen("Phone ready", label ? "Press \u201c" + label + "\u201d." : "");
  }

  // The setup box, until the user creates a phone: one promise however often it is asked for.
  function whenCreated() {
    if (creating) { return creating; }
    api.show(profileBox, true);
    screen("Set up your phone", SETUP_TEXT);
    creating = new Promise(function (resolve) {
      createButton.onclick = async function () {
        createButton.disabled = true;
        try {
          const state = await api.post(base, { profile: profileSelect.value });
          deviceId = state.device_id;
          window.localStorage.setItem(STORAGE_KEY, deviceId);
          api.show(profileBox, false);
          labelDevice(state);
          creating = null;
          createButton.onclick = null;
          showReady();
          resolve(state);
        } catch (err) {
          screen("Could not set up the phone", err.message);
        } finally {
          createButton.disabled = false;
        }
      };
    });
    return creating;
  }

  // options.fresh: forget the current phone and set up another; options.reveal: the user
  // asked for this, so scroll the setup into view; options.readyButton: the page's next
  // button, named on the screen once the phone is ready.
  async function ensureDevice(options) {
    const opts = options || {};
    if (opts.readyButton) { readyButton = opts.readyButton; }
    if (opts.fresh) {
      window.localStorage.removeItem(STORAGE_KEY);
      deviceId = null;
    }
    const existing = await loadDevice();
    if (existing) {
      if (opts.readyButton) { showReady(); }
      return existing;
    }
    const created = whenCreated();
    if (opts.reveal) { reveal(profileSelect); }
    return created;
  }

  // For a page button that needs the phone: true when there is one; otherwise the setup is
  // shown and brought into view, the user is told next to the button (`report`, the page's
  // result line) and the button is usable again.
  async function needDevice(button, report) {
    if (await loadDevice()) { return true; }
    whenCreated();
    screen("Set up your phone first", SETUP_TEXT);
    reveal(profileSelect);
    report("pending", "Set up your phone first: choose the phone to emulate and press \u201cUse this phone\u201d.");
    button.disabled = false;
    return false;
  }

  confirmButton.addEventListener("click", async function () {
    if (!pendingConfirm) {
      screen("Nothing to confirm", "The confirm button only works while a request is shown.");
      return;
    }
    const done = pendingConfirm;
    pendingConfirm = null;
    confirmButton.classList.remove("armed");
    try {
      await api.post(url("/button"), {});
      const signed = await api.post(url("/confirmation/collect"), {});
      screen("Confirmed", "Your phone signed the text it showed you.");
      done.resolve(signed);
    } catch (err) {
      screen("Confirmation failed", err.message);
      done.reject(err);
    }
  });

  async function confirmOnPhone(prompt, nonce) {
    await api.post(url("/confirmation"), { prompt: prompt, nonce: nonce });
    screen("Confirm on your phone", prompt);
    panel.classList.add("trusted-ui");
    confirmButton.classList.add("armed");
    reveal(confirmButton);
    return new Promise(function (resolve, reject) {
      pendingConfirm = {
        resolve: function (v) { panel.classList.remove("trusted-ui"); resolve(v); },
        reject: function (e) { panel.classList.remove("trusted-ui"); reject(e); },
      };
    });
  }

  pinPad.addEventListener("click", function (event) {
    const key = event.target.closest("button");
    if (!key || !pendingPin) { return; }
    const value = key.dataset.key;
    if (value === "del") {
      pinDigits = pinDigits.slice(0, -1);
    } else if (value === "ok") {
      if (pinDigits.length < 4) { return; }
      const done = pendingPin;
      const pin = pinDigits;
      pendingPin = null;
      pinDigits = "";
      api.show(pinPad, false);
      done(pin);
    } else if (pinDigits.length < 6) {
      pinDigits += value;
    }
    api.setText(pinDisplay, "\u2022".repeat(pinDigits.length));
  });

  function askPin(title, text) {
    pinDigits = "";
    api.setText(pinDisplay, "");
    screen(title, text);
    api.show(pinPad, true);
    reveal(pinPad.querySelector("button"));
    return new Promise(function (resolve) { pendingPin = resolve; });
  }

  return {
    ensureDevice: ensureDevice,
    needDevice: needDevice,
    deviceId: function () { return deviceId; },
    screen: screen,
    bind: function (challenge) { return api.post(url("/bind"), { challenge: challenge }); },
    confirmOnPhone: confirmOnPhone,
    askPin: askPin,
    openChannel: function (hello) { return api.post(url("/channel"), { hello: hello }); },
    seChallenge: function () { return api.post(url("/se-challenge"), {}); },
    provision: function (record) { return api.post(url("/provisioning"), { record: record }); },
    setPin: function (pin) { return api.post(url("/pin"), { pin: pin }); },
    state: loadDevice,
  };
})();
