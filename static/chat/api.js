// REST client for /api/v1/chat/: session cookie auth, CSRF header on writes, errors as ApiError.

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || `Request failed (${status})`);
    this.status = status;
    this.code = body && body.code;
    this.fields = (body && body.fields) || {};
    this.body = body;
  }

  describe() {
    const details = Object.entries(this.fields).map(([field, msgs]) => `${field}: ${[].concat(msgs).join(" ")}`);
    return details.length ? `${this.message} (${details.join("; ")})` : this.message;
  }
}

export class Api {
  constructor(base, csrfToken) {
    this.base = base;
    this.csrfToken = csrfToken;
  }

  url(path, params) {
    const url = new URL(this.base + path, window.location.origin);
    for (const [key, value] of Object.entries(params || {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
    }
    return url;
  }

  async request(method, path, { params, json, form } = {}) {
    const headers = { Accept: "application/json" };
    let body;
    if (method !== "GET") headers["X-CSRFToken"] = this.csrfToken;
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    } else if (form) {
      body = form;
    }
    const response = await fetch(this.url(path, params), { method, headers, body, credentials: "same-origin" });
    if (response.status === 204) return null;
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = { error: text.slice(0, 200) };
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  get(path, params) {
    return this.request("GET", path, { params });
  }

  post(path, json) {
    return this.request("POST", path, { json });
  }

  patch(path, json) {
    return this.request("PATCH", path, { json });
  }

  delete(path, json) {
    return this.request("DELETE", path, { json });
  }

  upload(path, form) {
    return this.request("POST", path, { form });
  }
}

// List endpoints may answer with a bare array or a paginated {"results": [...]} object.
export function resultsOf(data) {
  if (Array.isArray(data)) return data;
  return (data && data.results) || [];
}
