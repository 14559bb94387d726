// The Mastodon API from the page: the session cookie and the CSRF header (see ../chat/api.js),
// plus pages that follow the Link header's rel="next".
import { Api, ApiError } from "../chat/api.js";

export { ApiError };

function nextParams(link) {
  const match = /<([^>]+)>;\s*rel="next"/.exec(link || "");
  if (!match) return null;
  return Object.fromEntries(new URL(match[1], window.location.origin).searchParams);
}

export class FeedApi extends Api {
  // One page of a list endpoint: {items, next} where next holds the parameters of the next page (or null).
  async page(path, params) {
    const response = await fetch(this.url(path, params), { headers: { Accept: "application/json" }, credentials: "same-origin" });
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = { error: text.slice(0, 200) };
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return { items: data || [], next: nextParams(response.headers.get("Link")) };
  }
}
