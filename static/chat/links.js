// Web addresses in message text become links. The text is split into plain and link parts
// (`splitLinks`, DOM-free) and built as text nodes and <a> elements — never as HTML — so a
// message cannot inject markup, and only http(s) addresses are ever linked (no javascript:).

import { h } from "./dom.js";

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const TRAILING = new Set([".", ",", ";", ":", "!", "?", "'", '"', ")", "]", "}", "*", "_"]);
export const LINK_REL = "noopener noreferrer nofollow";

function count(text, ch) {
  return text.split(ch).length - 1;
}

// Sentence punctuation after an address is not part of it; a ")" closing one opened inside the
// address is (https://en.wikipedia.org/wiki/Mercury_(planet)).
function trimTrailing(candidate) {
  let end = candidate.length;
  while (end > 0 && TRAILING.has(candidate[end - 1])) {
    const head = candidate.slice(0, end);
    if (candidate[end - 1] === ")" && count(head, "(") >= count(head, ")")) break;
    end -= 1;
  }
  return candidate.slice(0, end);
}

export function safeHref(candidate) {
  try {
    const url = new URL(candidate);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname ? url.href : null;
  } catch {
    return null;
  }
}

export function splitLinks(text) {
  const parts = [];
  let last = 0;
  for (const match of String(text).matchAll(URL_PATTERN)) {
    const candidate = trimTrailing(match[0]);
    const href = safeHref(candidate);
    if (!href) continue;
    if (match.index > last) parts.push({ text: text.slice(last, match.index) });
    parts.push({ text: candidate, href });
    last = match.index + candidate.length;
  }
  if (last < text.length) parts.push({ text: text.slice(last) });
  return parts;
}

export function linkedText(text) {
  return splitLinks(text).map((part) => (part.href
    ? h("a", { href: part.href, target: "_blank", rel: LINK_REL, class: "message-link", "data-testid": "message-link" }, part.text)
    : part.text));
}
