// Shared helpers: JSON requests with the CSRF header, base64 <-> bytes.
"use strict";

window.cardsim = (function () {
  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  class ApiError extends Error {
    constructor(status, code, message, body, retryAfter) {
      super(message);
      this.status = status;
      this.code = code;
      this.body = body;
      this.retryAfter = retryAfter;  // seconds, from Retry-After (429, 503), else null
    }
  }

  async function request(method, url, body, extraHeaders) {
    const headers = Object.assign(
      { "X-CSRFToken": csrfToken(), "X-Requested-With": "fetch", "Accept": "application/json" },
      extraHeaders || {}
    );
    let payload = body;
    if (body !== undefined && !(body instanceof Blob) && !(body instanceof ArrayBuffer)) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const response = await fetch(url, {
      method: method, headers: headers, body: payload, credentials: "same-origin",
    });
    let data = null;
    try {
      data = await response.json();
    } catch (e) {
      data = null;
    }
    if (!response.ok) {
      const err = (data && data.error) || {};
      const retry = parseInt(response.headers.get("Retry-After") || "", 10);
      throw new ApiError(response.status, err.code || "http_" + response.status,
        err.message || "The server answered " + response.status + ".", data,
        Number.isFinite(retry) && retry > 0 ? retry : null);
    }
    return data;
  }

  function show(el, visible) {
    if (el) { el.hidden = !visible; }
  }

  function setText(el, text) {
    if (el) { el.textContent = text; }
  }

  return {
    csrfToken: csrfToken,
    ApiError: ApiError,
    post: function (url, body, headers) { return request("POST", url, body, headers); },
    get: function (url) { return request("GET", url); },
    show: show,
    setText: setText,
  };
})();
