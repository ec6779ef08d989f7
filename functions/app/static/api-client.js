// Calls the coaching sessions API (docs/api.md) with the host page's token, and turns every
// refusal into a Problem: the RFC 9457 document the API answers, or one in its shape for what
// is not (no network, API Gateway's own 401 or 5xx). The screens show `detail` and place each
// of `errors[]` next to its field, so a refusal code added to the API later needs no change here.

export class Problem extends Error {
  constructor({ status = 0, code = "UNKNOWN", title = "", detail = "", errors = [] } = {}) {
    super(detail || title || code);
    this.status = status;
    this.code = code;
    this.title = title;
    this.detail = detail || title || "Something went wrong.";
    this.errors = Array.isArray(errors) ? errors : [];
  }
}

const FALLBACK = {
  0: ["NETWORK", "The service could not be reached. Check your connection and try again."],
  401: ["UNAUTHENTICATED", "Your sign-in has expired. Sign in again, then retry."],
  403: ["FORBIDDEN", "You are not allowed to do that."],
  404: ["NOT_FOUND", "That session no longer exists, or is not yours to see."],
  429: ["THROTTLED", "Too many requests at once. Wait a moment and try again."],
  500: ["INTERNAL_ERROR", "Something went wrong on our side. Try again in a moment."],
};

function fallback(status) {
  const [code, detail] = FALLBACK[status] || FALLBACK[status >= 500 ? 500 : 0];
  return new Problem({ status, code, detail });
}

/** A fresh Idempotency-Key: one per action the person confirms, reused when they retry it. */
export function newKey() {
  if (globalThis.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class ApiClient {
  /**
   * @param {string} baseUrl the API's base URL ("" for the page's own origin)
   * @param {() => Promise<string>|string} getToken the host page's way to get a bearer token
   */
  constructor(baseUrl, getToken) {
    this.baseUrl = (baseUrl || "").replace(/\/+$/, "");
    this.getToken = getToken;
  }

  async token() {
    if (typeof this.getToken !== "function") {
      throw new Problem({
        code: "UNAUTHENTICATED",
        detail: "Not signed in: the page has not given this element a way to get a token.",
      });
    }
    const token = await this.getToken();
    if (!token) {
      throw new Problem({ status: 401, code: "UNAUTHENTICATED", detail: FALLBACK[401][1] });
    }
    return token;
  }

  /** The answer's JSON body (`null` for none); a Problem for any refusal. */
  async request(method, path, { body, query, idempotencyKey } = {}) {
    const headers = { Authorization: `Bearer ${await this.token()}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
    let url = this.baseUrl + path;
    if (query) {
      const search = new URLSearchParams();
      for (const [name, value] of Object.entries(query)) {
        if (value !== undefined && value !== null) search.set(name, value);
      }
      url += `?${search}`;
    }
    let response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
      });
    } catch {
      throw fallback(0);
    }
    const text = await response.text();
    let parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    if (response.ok) {
      return { status: response.status, body: parsed };
    }
    if (parsed && typeof parsed === "object" && typeof parsed.code === "string") {
      throw new Problem({ ...parsed, status: response.status });
    }
    throw fallback(response.status);
  }

  get(path, query) {
    return this.request("GET", path, { query }).then((answer) => answer.body);
  }

  post(path, body, idempotencyKey) {
    return this.request("POST", path, { body: body ?? {}, idempotencyKey });
  }
}
