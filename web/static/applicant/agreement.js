// Agreement: issuer text + nonce -> phone trusted UI -> physical button -> signature -> issuer.
"use strict";

(function () {
  const root = document.getElementById("agreement");
  const phone = window.cardsimPhone;
  if (!root || !phone) { return; }
  const api = window.cardsim;
  const startButton = document.getElementById("agreement-start");
  const resultEl = document.getElementById("agreement-result");

  function report(kind, text) {
    api.show(resultEl, true);
    resultEl.className = "result result-" + kind;
    api.setText(resultEl, text);
  }

  startButton.addEventListener("click", async function () {
    startButton.disabled = true;
    try {
      if (!(await phone.needDevice(startButton, report))) { return; }
      const offer = await api.post(root.dataset.promptUrl, {});
      api.setText(document.getElementById("agreement-text"), offer.prompt);
      report("pending", "Read the agreement on your phone and press its Confirm button.");
      const signed = await phone.confirmOnPhone(offer.prompt, offer.nonce);
      const outcome = await api.post(root.dataset.signatureUrl, {
        message: signed.message, signature: signed.signature,
      });
      report("passed", "Signed. Continuing\u2026");
      window.setTimeout(function () { window.location.assign(outcome.next_url); }, 800);
    } catch (err) {
      report("failed", err.message);
      startButton.disabled = false;
    }
  });
  phone.ensureDevice({ readyButton: startButton }).catch(function () {});
})();
