"""Build the SYNTHETIC Bluesky, Mastodon, Hacker News and Jetstream data bundled in ``data/``.

Nothing here was fetched: threads, people and texts are generated (seeded) in each API's real response shape
to exercise the loaders and the walk-throughs offline. Hosts and handles use the reserved ``.test`` domain
and the names say ``synthetic``. The archives are in the layout ``toolkit-fetch`` writes (one file per
response, ``index.jsonl`` with URL, time, sha256; ``"synthetic": true`` on every line):

- ``bluesky_synthetic/``: ``app.bsky.feed.getPostThread`` responses (``thread-<did>-<rkey>.json``) of two
  threads, as an AppView that returns 4 levels of replies answers: the first call, then one call per post
  whose replies it cut off (``parentHeight=0``); labels from a moderation service (``!hide`` -> removed,
  ``rude``, ``!warn``; an author labelled ``spam``), two ``notFoundPost`` and one ``blockedPost`` replies.
- ``mastodon_synthetic/``: ``/api/v1/statuses/<id>`` and ``/context`` responses (``status-<id>.json``,
  ``context-<id>.json``) of one thread fetched from a reply: the reply, its context, the root and the root's
  context; accounts from two instances; content warnings; one status whose replies were cut off and which
  was deleted before the follow-up call (a 404 saved as ``context-<id>.json``), one more deleted status.
- ``hackernews_synthetic/``: ``/v0/item/<id>.json`` responses (``item-<id>.json``) of one story and its
  comments, three ``dead`` (killed) and two ``deleted``.
- ``jetstream_synthetic.jsonl``: Jetstream events (``app.bsky.feed.post`` commits, deletions of three captured
  posts and one uncaptured, an update, likes and an identity event, a reply whose parent was posted before
  the capture began).

Run from the repository root::

    .venv/bin/python data/build_platform_archives.py [DATA_DIR]
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

START = datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)
FETCHED = "2024-05-03T12:00:00+00:00"
CIVIL = ["Good point, thanks for the source.", "I read the article and it seems fair.", "Has anyone tried this?",
         "Interesting, I did not know that.", "Here is a longer study on the topic.", "Agreed, well put.",
         "Not sure about that, the numbers look off to me.", "Thanks, that helps a lot.",
         "Which city did this first?", "The second chart is the interesting one."]
RUDE = ["You are an idiot and you know it.", "Shut up, nobody asked you, moron.", "What a stupid take, loser.",
        "This is crap and so are you.", "Go away, you pathetic troll."]
PEOPLE = ["ana", "ben", "cleo", "dev", "eli", "fay", "gus", "hana", "ivo", "jun"]
MOD_SERVICE = "did:plc:synthetic-moderation"
APPVIEW = "https://public.api.bsky.app/xrpc/app.bsky.feed.getPostThread"
CUT_DEPTH = 4  # the synthetic AppView's reply depth


def iso(minutes: float) -> str:
    return (START + timedelta(minutes=minutes)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def tree(rng: random.Random, n: int, max_depth: int) -> list[tuple[int | None, int]]:
    """(parent index or None for the root, depth) of ``n`` nodes: node 0 is the root."""
    nodes: list[tuple[int | None, int]] = [(None, 0)]
    for _ in range(1, n):
        candidates = [i for i, (_, depth) in enumerate(nodes) if depth < max_depth]
        weights = [1.0 + nodes[i][1] if i else 3.0 for i in candidates]
        parent = rng.choices(candidates, weights)[0]
        nodes.append((parent, nodes[parent][1] + 1))
    return nodes


def text_for(rng: random.Random) -> tuple[str, bool]:
    rude = rng.random() < 0.22
    return rng.choice(RUDE if rude else CIVIL), rude


class Archive:
    """A folder in the fetchers' layout: one file per response, ``index.jsonl`` (marked synthetic)."""

    def __init__(self, out: Path):
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        self.out, self.lines = out, []

    def save(self, name: str, url: str, params: dict[str, Any], document: Any, status: int = 200) -> None:
        body = json.dumps(document, indent=1).encode()
        (self.out / name).write_bytes(body)
        self.lines.append({"url": url, "params": params, "file": name, "fetched_at": FETCHED, "status": status,
                           "sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body), "synthetic": True})

    def close(self) -> None:
        (self.out / "index.jsonl").write_text("".join(json.dumps(line) + "\n" for line in self.lines))


# ------------------------------------------------------------------------------------------------ Bluesky

def bluesky(out: Path, rng: random.Random) -> None:
    posts: dict[str, dict[str, Any]] = {}  # uri -> {view, children, kind}
    roots = []
    counter = 0
    for thread, size in enumerate((30, 18)):
        shape = tree(rng, size, 8)
        uris: list[str] = []
        for index, (parent, _) in enumerate(shape):
            counter += 1
            person = PEOPLE[(index * 3 + thread) % len(PEOPLE)] if index else PEOPLE[thread]
            did = f"did:plc:synthetic-{person}"
            uri = f"at://{did}/app.bsky.feed.post/3ksyn{counter:05d}"
            uris.append(uri)
            text, rude = text_for(rng)
            if index == 0:
                text, rude = ["Cities are adding protected bike lanes. Thoughts?", "Open-source phone OS?"][thread], False
            record: dict[str, Any] = {"$type": "app.bsky.feed.post", "createdAt": iso(thread * 600 + index * 7),
                                      "text": text, "langs": ["en"]}
            if parent is not None:
                record["reply"] = {"root": {"uri": uris[0], "cid": f"bafysyn{thread}"},
                                   "parent": {"uri": uris[parent], "cid": f"bafysynp{parent}"}}
            labels = []
            if rude and rng.random() < 0.5:
                labels.append({"src": MOD_SERVICE, "uri": uri, "val": "!hide" if rng.random() < 0.6 else "rude",
                               "cts": iso(thread * 600 + index * 7 + 30), "ver": 1})
            elif rng.random() < 0.05:
                labels.append({"src": MOD_SERVICE, "uri": uri, "val": "!warn", "cts": iso(index), "ver": 1})
            author_labels = [{"src": MOD_SERVICE, "uri": did, "val": "spam", "cts": iso(0), "ver": 1}] \
                if person == "gus" else []
            view = {"uri": uri, "cid": f"bafysyn{counter:05d}",
                    "author": {"did": did, "handle": f"{person}.synthetic.test", "displayName": person.title(),
                               "labels": author_labels, "createdAt": "2023-09-01T00:00:00.000Z"},
                    "record": record, "replyCount": 0, "repostCount": rng.randint(0, 3),
                    "likeCount": rng.randint(0, 12), "quoteCount": 0, "indexedAt": record["createdAt"],
                    "labels": labels}
            kind = {(0, 6): "not_found", (0, 11): "blocked", (1, 4): "not_found"}.get((thread, index), "thread")
            posts[uri] = {"view": view, "children": [], "kind": kind, "parent": uris[parent] if parent is not None
                          else None}
            if parent is not None:
                posts[uris[parent]]["children"].append(uri)
                posts[uris[parent]]["view"]["replyCount"] += 1
        roots.append(uris[0])

    def node(uri: str, depth: int) -> dict[str, Any]:
        post = posts[uri]
        if post["kind"] == "not_found":
            return {"$type": "app.bsky.feed.defs#notFoundPost", "uri": uri, "notFound": True}
        if post["kind"] == "blocked":
            return {"$type": "app.bsky.feed.defs#blockedPost", "uri": uri, "blocked": True,
                    "author": {"did": post["view"]["author"]["did"],
                               "viewer": {"blockedBy": True}}}
        result: dict[str, Any] = {"$type": "app.bsky.feed.defs#threadViewPost", "post": post["view"]}
        if depth > 0:
            result["replies"] = [node(child, depth - 1) for child in post["children"]]
        return result

    def cut_off(uri: str, depth: int = 0) -> list[str]:
        """The posts at the cut depth below ``uri`` whose replies the response leaves out."""
        post = posts[uri]
        if post["kind"] != "thread":
            return []
        if depth == CUT_DEPTH:
            return [uri] if post["children"] else []
        return [found for child in post["children"] for found in cut_off(child, depth + 1)]

    archive = Archive(out)
    for root in roots:
        pending = [(root, 1000)]
        while pending:
            uri, height = pending.pop(0)
            did, rkey = uri[5:].split("/app.bsky.feed.post/")
            params = {"uri": uri, "depth": 1000, "parentHeight": height}
            archive.save(f"thread-{did.replace(':', '_')}-{rkey}.json", APPVIEW, params,
                         {"thread": node(uri, CUT_DEPTH)})
            pending += [(found, 0) for found in cut_off(uri)]
    archive.close()


# ----------------------------------------------------------------------------------------------- Mastodon

HOME, OTHER = "mastodon.synthetic.test", "social.synthetic.test"


def mastodon(out: Path, rng: random.Random) -> None:
    shape = tree(rng, 41, 7)
    statuses: list[dict[str, Any]] = []
    for index, (parent, _) in enumerate(shape):
        person = PEOPLE[index % len(PEOPLE)] if index else "ana"
        remote = person in ("dev", "fay", "ivo")
        acct = f"{person}@{OTHER}" if remote else person
        home = OTHER if remote else HOME
        own = str(112_000_000_000_000_000 + index * 1_000_003)
        text, rude = text_for(rng)
        if index == 0:
            text, rude = "Our city council votes on the bike lane plan tonight.", False
        content = "<p>" + text.replace(", ", ",<br>", 1) + "</p>"
        if rng.random() < 0.2:
            content += '<p><a href="https://news.synthetic.test/bike-lanes" rel="nofollow noopener" target="_blank">' \
                       '<span class="invisible">https://</span><span class="">news.synthetic.test/bike-lanes</span>' \
                       '<span class="invisible"></span></a></p>'
        statuses.append({
            "id": own, "created_at": iso(index * 5), "in_reply_to_id": statuses[parent]["id"] if parent is not None
            else None, "in_reply_to_account_id": None, "sensitive": rude and rng.random() < 0.5,
            "spoiler_text": "strong language" if rude and rng.random() < 0.5 else "", "visibility": "public",
            "language": "en", "uri": f"https://{home}/users/{person}/statuses/{own}",
            "url": f"https://{home}/@{person}/{own}", "replies_count": 0, "reblogs_count": rng.randint(0, 2),
            "favourites_count": rng.randint(0, 9), "edited_at": None, "content": content, "reblog": None,
            "account": {"id": str(100 + PEOPLE.index(person)), "username": person, "acct": acct,
                        "display_name": person.title(), "url": f"https://{home}/@{person}"},
            "media_attachments": [], "mentions": [], "tags": [], "emojis": [], "card": None, "poll": None})
    by_id = {s["id"]: s for s in statuses}
    children: dict[str, list[str]] = {}
    for status in statuses:
        if status["in_reply_to_id"]:
            by_id[status["in_reply_to_id"]]["replies_count"] += 1
            children.setdefault(status["in_reply_to_id"], []).append(status["id"])

    def below(own: str) -> list[str]:
        return [own, *(x for child in children.get(own, []) for x in below(child))]

    # the status whose replies the root context cuts off (deleted before the follow-up), and one more deleted
    with_replies = [s["id"] for s in statuses[1:] if children.get(s["id"]) and s["in_reply_to_id"]]
    focus = next(s["id"] for s in statuses if s["in_reply_to_id"] == statuses[0]["id"] and children.get(s["id"]))
    cut, deleted = with_replies[-1], next(x for x in with_replies if x != focus and x not in below(with_replies[-1]))
    hidden = set(below(cut)[1:])

    def ancestors(own: str) -> list[dict[str, Any]]:
        chain, node = [], by_id[own]["in_reply_to_id"]
        while node:
            chain.insert(0, by_id[node])
            node = by_id[node]["in_reply_to_id"]
        return chain

    def context(own: str) -> dict[str, Any]:
        return {"ancestors": ancestors(own),
                "descendants": [by_id[x] for x in below(own)[1:] if x not in hidden and x != deleted]}

    api = f"https://{HOME}/api/v1/statuses"
    archive = Archive(out)
    root = statuses[0]["id"]
    archive.save(f"status-{focus}.json", f"{api}/{focus}", {}, by_id[focus])
    archive.save(f"context-{focus}.json", f"{api}/{focus}/context", {}, {**context(focus), "descendants": [
        by_id[x] for x in below(focus)[1:] if x not in hidden]})  # fetched first: the deleted one still there
    archive.save(f"status-{root}.json", f"{api}/{root}", {}, by_id[root])
    archive.save(f"context-{root}.json", f"{api}/{root}/context", {}, context(root))
    archive.save(f"context-{cut}.json", f"{api}/{cut}/context", {}, {"error": "Record not found"}, status=404)
    archive.save(f"status-{deleted}.json", f"{api}/{deleted}", {}, {"error": "Record not found"}, status=404)
    archive.close()


# -------------------------------------------------------------------------------------------- Hacker News

def hackernews(out: Path, rng: random.Random) -> None:
    shape = tree(rng, 40, 6)
    story = 40_100_000
    ids = [story + index * 7 for index in range(len(shape))]
    kids: dict[int, list[int]] = {}
    items = []
    dead = set(rng.sample(range(5, 40), 3))
    deleted = set(rng.sample(sorted(set(range(5, 40)) - dead), 2))
    for index, (parent, _) in enumerate(shape):
        text, _ = text_for(rng)
        item: dict[str, Any] = {"by": f"synthetic_{PEOPLE[index % len(PEOPLE)]}", "id": ids[index],
                                "time": int((START + timedelta(minutes=index * 4)).timestamp()), "type": "comment"}
        if index == 0:
            item.update(type="story", title="Show HN: A synthetic bike-lane map", url="https://synthetic.test/map",
                        score=87, descendants=0)
        else:
            item["parent"] = ids[parent]
            item["text"] = text.replace("'", "&#x27;").replace(". ", ".<p>", 1)
            kids.setdefault(ids[parent], []).append(ids[index])
        if index in dead:
            item["dead"] = True
            item["text"] = rng.choice(RUDE)
        if index in deleted:
            item = {"deleted": True, "id": ids[index], "parent": ids[parent], "time": item["time"], "type": "comment"}
        items.append(item)
    for item in items:
        if item["id"] in kids:
            item["kids"] = kids[item["id"]]
    items[0]["descendants"] = len(items) - 1 - len(dead)  # HN counts the visible comments
    archive = Archive(out)
    for item in items:
        archive.save(f"item-{item['id']}.json", f"https://hacker-news.firebaseio.com/v0/item/{item['id']}.json", {},
                     item)
    archive.close()


# ---------------------------------------------------------------------------------------------- Jetstream

def jetstream(out: Path, rng: random.Random) -> None:
    events: list[dict[str, Any]] = []
    clock = int(START.timestamp() * 1e6)
    created: list[str] = []
    outside = "at://did:plc:synthetic-jun/app.bsky.feed.post/3ksynbefore"  # posted before the capture

    def event(did: str, commit: dict[str, Any]) -> None:
        nonlocal clock
        clock += rng.randint(200_000, 5_000_000)
        events.append({"did": did, "time_us": clock, "kind": "commit", "commit": {"rev": f"3ksynrev{clock}", **commit}})

    counter = 0
    for thread in range(3):
        shape = tree(rng, 20 if thread < 2 else 19, 6)
        uris: list[str] = []
        for index, (parent, _) in enumerate(shape):
            counter += 1
            did = f"did:plc:synthetic-{PEOPLE[(index + thread) % len(PEOPLE)]}"
            rkey = f"3ksynjs{counter:04d}"
            uri = f"at://{did}/app.bsky.feed.post/{rkey}"
            uris.append(uri)
            text, _ = text_for(rng)
            record: dict[str, Any] = {"$type": "app.bsky.feed.post", "createdAt": iso(thread * 60 + index),
                                      "langs": ["en"], "text": text}
            if parent is not None:
                record["reply"] = {"parent": {"cid": "bafysynp", "uri": uris[parent]},
                                   "root": {"cid": "bafysynr", "uri": uris[0]}}
            event(did, {"operation": "create", "collection": "app.bsky.feed.post", "rkey": rkey, "record": record,
                        "cid": f"bafysynjs{counter:04d}"})
            created.append(uri)
            if index == 3 and thread == 0:
                event(f"did:plc:synthetic-{PEOPLE[1]}", {"operation": "create", "collection": "app.bsky.feed.like",
                      "rkey": "3ksynlike1", "record": {"subject": {"uri": uri}, "createdAt": iso(5)}})
    counter += 1
    event("did:plc:synthetic-jun", {"operation": "create", "collection": "app.bsky.feed.post", "rkey": "3ksynjs0099",
          "record": {"$type": "app.bsky.feed.post", "createdAt": iso(200), "langs": ["en"], "text": "Still true today.",
                     "reply": {"parent": {"cid": "bafysyno", "uri": outside},
                               "root": {"cid": "bafysynr", "uri": outside.replace("before", "beforeroot")}}},
          "cid": "bafysynjs0099"})
    for uri in rng.sample(created[1:], 3):
        did, rkey = uri[5:].split("/app.bsky.feed.post/")
        event(did, {"operation": "delete", "collection": "app.bsky.feed.post", "rkey": rkey})
    event("did:plc:synthetic-eli", {"operation": "delete", "collection": "app.bsky.feed.post", "rkey": "3ksynolder"})
    did, rkey = created[5][5:].split("/app.bsky.feed.post/")
    original = next(e["commit"]["record"] for e in events if e["commit"].get("rkey") == rkey)
    event(did, {"operation": "update", "collection": "app.bsky.feed.post", "rkey": rkey,
                "record": {**original, "text": "Edited: fair point."}, "cid": "bafysynedit"})
    for n in range(3):
        event(f"did:plc:synthetic-{PEOPLE[n]}", {"operation": "create", "collection": "app.bsky.feed.like",
              "rkey": f"3ksynlike{n + 2}", "record": {"subject": {"uri": created[n]}, "createdAt": iso(300)}})
    clock += 1000
    events.append({"did": "did:plc:synthetic-ana", "time_us": clock, "kind": "identity",
                   "identity": {"did": "did:plc:synthetic-ana", "handle": "ana.synthetic.test", "seq": 1,
                                "time": iso(301)}})
    out.write_text("".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events))


def main(root: Path) -> None:
    bluesky(root / "bluesky_synthetic", random.Random(23))
    mastodon(root / "mastodon_synthetic", random.Random(24))
    hackernews(root / "hackernews_synthetic", random.Random(25))
    jetstream(root / "jetstream_synthetic.jsonl", random.Random(26))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
