// Interview: measures how long each answer took, from the moment the question was
// reached (the previous one answered) to the answer; the server also measures the total.
"use strict";

(function () {
  const form = document.getElementById("interview-form");
  if (!form) { return; }
  const questions = Array.from(form.querySelectorAll("fieldset.question"));
  let shownAt = performance.now();

  questions.forEach(function (fieldset) {
    const timeInput = fieldset.querySelector("input.response-time");
    function record() {
      if (timeInput.value === "") {
        timeInput.value = String(Math.round(performance.now() - shownAt));
        shownAt = performance.now();
      }
    }
    fieldset.querySelectorAll("input[type=radio]").forEach(function (el) {
      el.addEventListener("change", record);
    });
    fieldset.querySelectorAll("input[type=text]").forEach(function (el) {
      el.addEventListener("change", record);
    });
  });
})();
