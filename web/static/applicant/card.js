// Card page: provisioning into the phone's secure element over the secure channel,
// activation with a PIN set on the phone, and a transient reveal of the card details.
"use strict";

(function () {
  const root = document.getElementById("card-page");
  const phone = window.cardsimPhone;
  if (!root || !phone) { return; }
  const api = window.cardsim;
  const provisionButton = document.getElementById("card-provision");
  const activateButton = document.getElementById("card-activate");
  const revealButton = document.getElementById("card-reveal");
  const resultEl = document.getElementById("card-result");
  const panEl = document.getElementById("card-pan");
  const cvvEl = document.getElementById("card-cvv");
  const REVEAL_SECONDS = 30;
  let hideTimer = null;

  function report(kind, text) {
    api.show(resultEl, true);
    resultEl.className = "result result-" + kind;
    api.setText(resultEl, text);
  }

  async function provision() {
    provisionButton.disabled = true;
    try {
      if (!(await phone.needDevice(provisionButton, report))) { return; }
      phone.screen("Installing your card", "Opening a secure channel to your bank\u2026");
      const hello = await api.post(root.dataset.helloUrl, {});
      await phone.openChannel(hello.hello);
      const challenge = await phone.seChallenge();
      const sealed = await api.post(root.dataset.payloadUrl, { se_challenge: challenge.challenge });
      const delivered = await phone.provision(sealed.record);
      await api.post(root.dataset.resultUrl, { record: delivered.record });
      phone.screen("Card installed", "Your card is in this phone's secure element.");
      root.dataset.provisioned = "yes";
      api.setText(document.getElementById("card-provisioned"), "yes");
      api.show(provisionButton, false);
      api.show(activateButton, true);
      report("passed", "Your card is installed in your phone. Activate it by setting a PIN.");
    } catch (err) {
      report("failed", err.message);
      provisionButton.disabled = false;
    }
  }

  async function activate() {
    activateButton.disabled = true;
    try {
      if (!(await phone.needDevice(activateButton, report))) { return; }
      const pin = await phone.askPin("Choose a card PIN", "Enter 4 to 6 digits on your phone and press OK.");
      await phone.setPin(pin);
      const card = await api.post(root.dataset.activateUrl, {});
      phone.screen("Card active", "Your PIN is set.");
      root.dataset.status = card.status;
      api.setText(document.getElementById("card-status"), card.status);
      api.show(activateButton, false);
      api.show(revealButton, true);
      report("passed", "Your card is active.");
    } catch (err) {
      report("failed", err.message);
      activateButton.disabled = false;
    }
  }

  function hideDetails() {
    api.setText(panEl, panEl.dataset.masked);
    api.setText(cvvEl, "");
    api.show(cvvEl, false);
    revealButton.disabled = false;
    root.dataset.revealed = "no";
  }

  // After a refused PIN: what the phone says, and whether it takes another PIN right away
  // (the phone's own PIN counters tell: tries left before it locks, seconds to wait).
  async function afterWrongPin(err) {
    let pinState = null;
    try {
      const device = await phone.state();
      pinState = device && device.state ? device.state.pin : null;
    } catch (ignored) {
      pinState = null;
    }
    if (!pinState || pinState.locked) {
      return { again: false, title: "PIN refused", text: err.message };
    }
    const left = pinState.remaining_attempts;
    const tries = typeof left === "number" ?
      " " + left + " tr" + (left === 1 ? "y" : "ies") + " left before the PIN locks." : "";
    if (pinState.retry_after > 0) {
      return { again: false, title: "Wrong PIN",
        text: "The PIN was not correct." + tries + " Wait " + pinState.retry_after +
          " seconds, then press \u201cShow card details\u201d again." };
    }
    return { again: true, title: "Wrong PIN",
      text: "The PIN was not correct." + tries + " Enter your card PIN and press OK." };
  }

  // Ask for the PIN on the phone until it is accepted (or the phone will not take another).
  async function revealWithPin() {
    let title = "Show card details";
    let text = "Enter your card PIN and press OK.";
    for (;;) {
      const pin = await phone.askPin(title, text);
      try {
        return await api.post(root.dataset.revealUrl, { device_id: phone.deviceId(), pin: pin });
      } catch (err) {
        if (err.code !== "pin_rejected") { throw err; }
        const next = await afterWrongPin(err);
        if (!next.again) {
          phone.screen(next.title, next.text);
          throw err;
        }
        report("failed", "The PIN was not correct. Enter it again on your phone.");
        title = next.title;
        text = next.text;
      }
    }
  }

  async function reveal() {
    revealButton.disabled = true;
    try {
      if (!(await phone.needDevice(revealButton, report))) { return; }
      const details = await revealWithPin();
      api.show(resultEl, false);
      // Shown for a short time only; never stored in the page state or sent anywhere.
      api.setText(panEl, details.pan.replace(/(\d{4})(?=\d)/g, "$1 "));
      api.setText(cvvEl, "CVV2 " + details.cvv2);
      api.show(cvvEl, true);
      root.dataset.revealed = "yes";
      phone.screen("Details shown", "They will be hidden in " + REVEAL_SECONDS + " seconds.");
      window.clearTimeout(hideTimer);
      hideTimer = window.setTimeout(hideDetails, REVEAL_SECONDS * 1000);
    } catch (err) {
      report("failed", err.message);
      revealButton.disabled = false;
    }
  }

  provisionButton.addEventListener("click", provision);
  activateButton.addEventListener("click", activate);
  revealButton.addEventListener("click", reveal);
  const nextButton = [provisionButton, activateButton, revealButton].find(function (b) { return !b.hidden; });
  phone.ensureDevice({ readyButton: nextButton }).catch(function () {});
})();
