"""Which reports are the same rumour, pure (no database): link normalisation, text similarity, and the
time and distance window.

Two reports join one group when
- their normalised links are equal (tracking parameters dropped; mobile and desktop hosts, and the
  aliases of one site, made one; a shortener link counts as the link it expands to when the report
  gives both), at any time in the operation; or
- their texts are similar (`similarity() >= TEXT_THRESHOLD`), they were observed within WINDOW of each
  other and, when both carry a location, within DISTANCE_M of each other.
"""

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit

from rapidfuzz import fuzz

WINDOW = timedelta(minutes=30)
DISTANCE_M = 1000.0
TEXT_THRESHOLD = 80.0
MIN_TOKENS = 2  # one word ("stabbing") is too little to say two reports are the same claim

# --- links -----------------------------------------------------------------------------------------------

_TRACKING_PARAMS = {
    "fbclid",
    "gclid",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "yclid",
    "igshid",
    "igsh",
    "mibextid",
    "si",
    "s",
    "ref",
    "ref_src",
    "ref_url",
    "src",
    "feature",
    "share",
    "share_id",
    "mc_cid",
    "mc_eid",
    "_ga",
    "_gl",
    "rdt",
    "t",
    "spm",
    "cmpid",
    "ocid",
    "smid",
    "sh",
    "__cft__",
    "__tn__",
    "xmt",
    "is_from_webapp",
    "sender_device",
    "sender_web_id",
    "web_id",
    "lang",
    "hl",
}
_HOST_PREFIXES = ("www.", "m.", "mobile.", "mbasic.", "touch.", "amp.", "old.", "new.", "np.", "web.")
_HOST_ALIASES = {
    "twitter.com": "x.com",
    "fxtwitter.com": "x.com",
    "vxtwitter.com": "x.com",
    "fixupx.com": "x.com",
    "fb.com": "facebook.com",
    "fb.watch": "facebook.com",
    "instagr.am": "instagram.com",
    "youtube-nocookie.com": "youtube.com",
    "redd.it": "reddit.com",
}
SHORTENERS = frozenset(
    {
        "t.co",
        "bit.ly",
        "tinyurl.com",
        "ow.ly",
        "buff.ly",
        "goo.gl",
        "is.gd",
        "lnkd.in",
        "dlvr.it",
        "t.ly",
        "rb.gy",
        "shorturl.at",
        "cutt.ly",
        "tiny.cc",
        "trib.al",
        "vm.tiktok.com",
        "vt.tiktok.com",
        "fb.me",
    }
)
_URL_IN_TEXT = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)


def _host(netloc_host: str) -> str:
    host = netloc_host.lower().rstrip(".")
    changed = True
    while changed:
        changed = False
        for prefix in _HOST_PREFIXES:
            if host.startswith(prefix) and host.count(".") >= 2:
                host, changed = host[len(prefix) :], True
    return _HOST_ALIASES.get(host, host)


def normalise_link(url: str) -> str | None:
    """A comparable key for a link (no scheme, canonical host, path, sorted non-tracking query); None
    when it is not an http(s) link with a host."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    host = _host(host)
    path = re.sub(r"/{2,}", "/", parts.path or "/")
    while path != (trimmed := path.strip().rstrip("/")):  # "/a/ /" and "/a" are one page
        path = trimmed
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in _TRACKING_PARAMS and not k.lower().startswith("utm_")
    ]
    # Sites whose posts have one stable id whatever the path around it.
    if host == "x.com" and (match := re.search(r"/status(?:es)?/(\d+)", path)):
        return f"x.com/status/{match.group(1)}"
    if host == "youtu.be" and path:
        return f"youtube.com/watch?v={path.strip('/').split('/')[0]}"
    if host == "youtube.com":
        if match := re.match(r"/(?:shorts|embed|live|v)/([\w-]+)", path):
            return f"youtube.com/watch?v={match.group(1)}"
        video = dict(query).get("v")
        if path == "/watch" and video:
            return f"youtube.com/watch?v={video}"
    if host == "facebook.com" and path in ("/story.php", "/permalink.php"):
        ids = dict(query)
        if ids.get("story_fbid"):
            return f"facebook.com/story/{ids['story_fbid']}"
    suffix = f"?{urlencode(sorted(query))}" if query else ""
    return f"{host}{path}{suffix}"


def is_shortener(link_key: str | None) -> bool:
    return bool(link_key) and link_key.split("/", 1)[0] in SHORTENERS


def link_keys(source_url: str | None, summary: str | None) -> tuple[str | None, str | None]:
    """(link_key, short_link_key). When the source link is a shortener (t.co ...) and the text gives the
    link it stands for, the expanded link is the key and the short one is kept alongside, so a later
    report carrying only the short link still finds the group."""
    key = normalise_link(source_url) if source_url else None
    if not is_shortener(key):
        return key, None
    for candidate in _URL_IN_TEXT.findall(summary or ""):
        expanded = normalise_link(candidate.rstrip(".,;:!?)"))
        if expanded and not is_shortener(expanded):
            return expanded, key
    return key, None


# --- text ------------------------------------------------------------------------------------------------

_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "from",
        "with",
        "and",
        "or",
        "but",
        "that",
        "this",
        "these",
        "those",
        "it",
        "its",
        "has",
        "have",
        "had",
        "having",
        "they",
        "them",
        "their",
        "there",
        "here",
        "i",
        "we",
        "you",
        "he",
        "she",
        "his",
        "her",
        "our",
        "your",
        "my",
        "me",
        "us",
        "someone",
        "somebody",
        "people",
        "person",
        "everyone",
        "apparently",
        "reportedly",
        "heard",
        "hear",
        "hearing",
        "saying",
        "says",
        "said",
        "say",
        "told",
        "tells",
        "report",
        "reports",
        "reported",
        "reporting",
        "claim",
        "claims",
        "claimed",
        "claiming",
        "just",
        "now",
        "all",
        "some",
        "just",
        "very",
        "police",
        "officer",
        "officers",
        "cops",
        "rumour",
        "rumor",
        "post",
        "posted",
        "posting",
        "video",
        "photo",
        "pic",
        "online",
        "social",
        "media",
        "up",
        "down",
        "near",
        "about",
        "into",
        "onto",
        "over",
        "just",
        "also",
        "only",
        "really",
        "got",
        "get",
        "gets",
        "getting",
    ]
)
_ABBREVIATIONS = {
    "st": "street",
    "rd": "road",
    "sq": "square",
    "ave": "avenue",
    "stn": "station",
    "nr": "near",
    "govt": "government",
    "cc": "city centre",
}
_SUFFIXES = ("ings", "ing", "ers", "ies", "ied", "ed", "er", "es", "s")


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            word = word[: -len(suffix)]
            break
    # "stabb(ed)" and "stab(bing)": a doubled final consonant is one.
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiou":
        word = word[:-1]
    return word


def text_key(text: str | None) -> str | None:
    """The words that carry the claim: case-folded, accents and punctuation gone, stop words dropped,
    light stemming, links removed. None when fewer than MIN_TOKENS remain."""
    if not text:
        return None
    text = _URL_IN_TEXT.sub(" ", text)
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    words = re.findall(r"\w+", text)
    tokens = []
    for word in words:
        word = _ABBREVIATIONS.get(word, word)
        if word in _STOPWORDS or (len(word) < 2 and not word.isdigit()):
            continue
        tokens.append(_stem(word))
    return " ".join(tokens) if len(tokens) >= MIN_TOKENS else None


def _token_found(token: str, others: list[str]) -> bool:
    if token in others:
        return True
    # A typo in a longer word ("mosuqe") still counts; short words must match exactly ("fire" vs "fight").
    return len(token) >= 5 and any(len(o) >= 5 and fuzz.ratio(token, o) >= 85 for o in others)


@lru_cache(maxsize=65536)  # a burst repeats the same few claims: score each pair once per process
def similarity(first_key: str | None, second_key: str | None) -> float:
    """0..100. RapidFuzz token-set ratio of the two keys, but only when the shorter claim is contained in
    the longer (every word found, one miss allowed from five words up): token-set ratio alone scores
    "fight at the station" and "fire at the station" as alike."""
    if not first_key or not second_key:
        return 0.0
    first, second = first_key.split(), second_key.split()
    shorter, longer = (first, second) if len(first) <= len(second) else (second, first)
    misses = sum(1 for token in set(shorter) if not _token_found(token, longer))
    if misses > (1 if len(set(shorter)) >= 5 else 0):
        return 0.0
    return float(fuzz.token_set_ratio(first_key, second_key))


# --- place -----------------------------------------------------------------------------------------------


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine), metres."""
    radius = 6_371_000.0
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi, d_lambda = math.radians(lat2 - lat1), math.radians(lon2 - lon1)
    h = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * radius * math.asin(min(1.0, math.sqrt(h)))


# --- choosing a group ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    group_id: object | None
    text_key: str | None
    link_key: str | None
    short_link_key: str | None
    reported_at: datetime
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True)
class Match:
    group_id: object
    reason: str  # "link" | "text"
    score: float


def links(report: Report) -> set[str]:
    """The report's link keys (normalised link, short link), none for a report without a link."""
    return {key for key in (report.link_key, report.short_link_key) if key}


def bounding_box(lat: float, lon: float, distance: float = DISTANCE_M) -> tuple[float, float, float, float]:
    """(min lat, max lat, min lon, max lon) enclosing the circle of `distance` metres: a cheap database
    pre-filter before the exact haversine check."""
    d_lat = math.degrees(distance / 6_371_000.0)
    d_lon = d_lat / max(math.cos(math.radians(lat)), 0.01)
    return lat - d_lat, lat + d_lat, lon - d_lon, lon + d_lon


def close_in_time_and_place(
    new: Report, other: Report, *, window: timedelta = WINDOW, distance: float = DISTANCE_M
) -> bool:
    if abs(new.reported_at - other.reported_at) > window:
        return False
    if None in (new.lat, new.lon, other.lat, other.lon):
        return True
    return distance_m(new.lat, new.lon, other.lat, other.lon) <= distance


def best_match(
    new: Report,
    candidates: list[Report],
    *,
    window: timedelta = WINDOW,
    distance: float = DISTANCE_M,
    threshold: float = TEXT_THRESHOLD,
) -> Match | None:
    """The group `new` belongs to among the existing reports `candidates`, or None for a new group. A
    shared link beats similar text; among texts the most similar wins."""
    new_links = links(new)
    if new_links:
        for other in candidates:
            if new_links & links(other):
                return Match(group_id=other.group_id, reason="link", score=100.0)
    best: Match | None = None
    if new.text_key:
        scores: dict[str, float] = {}  # many reports share a text: score each text once
        for other in candidates:
            if not other.text_key:
                continue
            if other.text_key not in scores:
                scores[other.text_key] = similarity(new.text_key, other.text_key)
            score = scores[other.text_key]
            if score < threshold or (best is not None and score <= best.score):
                continue
            if close_in_time_and_place(new, other, window=window, distance=distance):
                best = Match(group_id=other.group_id, reason="text", score=score)
    return best
