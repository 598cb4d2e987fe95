// Device binding: issuer challenge -> phone keystore (attested keys) -> issuer verification.
"use strict";

(function () {
  const root = document.getElementById("binding");
  const phone = window.cardsimPhone;
  if (!root || !phone) { return; }
  const api = window.cardsim;
  const startButton = document.getElementById("binding-start");
  const otherButton = document.getElementById("binding-other");
  const resultEl = document.getElementById("binding-result");
  const attemptsEl = document.getElementById("binding-attempts");

  function report(kind, text) {
    api.show(resultEl, true);
    resultEl.className = "result result-" + kind;
    api.setText(resultEl, text);
  }

  async function bind(fresh) {
    startButton.disabled = true;
    api.show(otherButton, false);
    try {
      if (fresh) {
        await phone.ensureDevice({ fresh: true, reveal: true });
      } else if (!(await phone.needDevice(startButton, report))) {
        return;
      }
      phone.screen("Security check", "Your bank is checking this phone's security hardware\u2026");
      const challenge = await api.post(root.dataset.challengeUrl, {});
      const keys = await phone.bind(challenge.challenge);
      const verdict = await api.post(root.dataset.bindingUrl, { challenge: challenge.challenge, chains: keys.chains });
      phone.screen("Phone bound", "Your bank trusts this phone's secure hardware.");
      report("passed", "Your phone is bound. Continuing\u2026");
      window.setTimeout(function () { window.location.assign(verdict.next_url); }, 800);
    } catch (err) {
      const body = err.body || {};
      phone.screen("Phone refused", err.message);
      report("failed", "Your bank refused this phone: " + err.message);
      root.dataset.refusal = err.code || "";
      if (typeof body.attempts_left === "number") { api.setText(attemptsEl, String(body.attempts_left)); }
      if (body.next_url) {
        window.setTimeout(function () { window.location.assign(body.next_url); }, 3000);
        return;
      }
      startButton.disabled = false;
      api.show(otherButton, true);
    }
  }

  startButton.addEventListener("click", function () { bind(false); });
  otherButton.addEventListener("click", function () { bind(true); });
  phone.ensureDevice({ readyButton: startButton }).catch(function () {});
})();
