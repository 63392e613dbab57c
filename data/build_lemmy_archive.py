"""Build ``data/lemmy_archive/``: a SYNTHETIC Lemmy archive in the layout ``toolkit-fetch lemmy`` writes.

Nothing here was fetched: the comments are generated (seeded) to exercise the loader and the removal
analyses offline. The shapes are Lemmy 0.19's (``/api/v3``): ``post-<id>.json`` (GetPostResponse),
``comments-<id>-NNNN.json`` (GetCommentsResponse pages of at most 50, the last one empty; consecutive pages
overlap by a few comments, as the default Hot order does), ``modlog-<action>-NNNN.json`` (GetModlogResponse)
and ``index.jsonl``. Two posts on two instances' communities; replies to depth 6; author-deleted comments
(text still sent, as 0.18 does); removed comments seen as a non-admin (empty content); a modlog with stated
reasons, the removed text for some, a removal later reverted and an entry for a comment on no page; one
comment missing from the pages, so that its replies are orphans.

Run from the repository root::

    .venv/bin/python data/build_lemmy_archive.py [OUT_DIR]
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

BASE = "https://lemmy.world"
START = datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)
CIVIL = ["Good point, thanks for the source.", "I read the article and it seems fair.", "Has anyone tried this?",
         "Interesting, I did not know that.", "Here is a longer study on the topic.", "Agreed, well put.",
         "Not sure about that, the numbers look off to me.", "Thanks, that helps a lot."]
RUDE = ["You are an idiot and you know it.", "Shut up, nobody asked you, moron.", "What a stupid take, loser.",
        "This is crap and so are you.", "Go away, you pathetic troll."]
REASONS = ["Rule 1: be civil", "Rule 1: be civil", "Rule 1: be civil", "Rule 3: no spam", "Rule 2: off topic"]
ENDPOINTS = {"post": "/post", "comments": "/comment/list", "modlog": "/modlog"}
POSTS = [(1042, "news", "lemmy.world", "Cities add protected bike lanes", 120),
         (2077, "technology", "lemmy.ml", "A new open-source phone OS", 90)]


def _time(minutes: int) -> str:
    """0.19 timestamps: UTC with a ``Z``."""
    return (START + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build(rng: random.Random) -> dict[str, object]:
    """Every response of the archive by file name."""
    files: dict[str, object] = {}
    removals, next_id = [], 5000
    for post_id, community, home, title, n_comments in POSTS:
        community_view = {"id": post_id // 10, "name": community, "actor_id": f"https://{home}/c/{community}"}
        post = {"id": post_id, "name": title, "body": "Discuss.", "creator_id": 7, "removed": False,
                "deleted": False, "published": _time(0), "ap_id": f"{BASE}/post/{post_id}", "language_id": 37}
        files[f"post-{post_id}.json"] = {"post_view": {"post": post, "creator": {"id": 7, "name": "poster"},
                                                       "community": community_view,
                                                       "counts": {"score": 40, "upvotes": 44, "downvotes": 4,
                                                                  "comments": n_comments}},
                                         "moderators": [], "cross_posts": []}
        views, paths = [], {}
        for number in range(n_comments):
            next_id += 1
            parent = rng.choice(list(paths)) if paths and rng.random() < 0.7 else None
            if parent is not None and paths[parent].count(".") >= 6:
                parent = None
            path = f"{paths[parent]}.{next_id}" if parent else f"0.{next_id}"
            paths[next_id] = path
            rude = rng.random() < 0.25
            content = rng.choice(RUDE if rude else CIVIL)
            deleted = rng.random() < 0.04
            removed = rude and rng.random() < 0.6 or (not rude and rng.random() < 0.03)
            if removed:
                removals.append((next_id, post_id, content, community_view))
            writer = "lemmy.world" if rng.random() < 0.6 else rng.choice(["lemmy.ml", "beehaw.org", "feddit.de"])
            comment = {"id": next_id, "creator_id": 100 + rng.randrange(40), "post_id": post_id,
                       "content": "" if removed else content, "removed": removed, "deleted": deleted,
                       "published": _time(5 + 3 * number), "path": path, "distinguished": False,
                       "ap_id": f"https://{writer}/comment/{next_id}", "local": writer == "lemmy.world",
                       "language_id": 37}
            views.append({"comment": comment, "creator": {"id": comment["creator_id"],
                                                          "name": f"user{comment['creator_id']}"},
                          "post": post, "community": community_view,
                          "counts": {"comment_id": next_id, "score": rng.randrange(-3, 12), "upvotes": 3,
                                     "downvotes": 1, "child_count": 0}})
        if post_id == 2077:  # a comment no page returned: its replies are orphans
            views = [view for view in views if view["comment"]["id"] != 5126]
        start, page = 0, 1
        while start < len(views):  # pages of 50 that overlap by 3 (the order shifted between requests)
            files[f"comments-{post_id}-{page:04d}.json"] = {"comments": views[max(0, start - 3):start + 50]}
            start, page = start + 50, page + 1
        files[f"comments-{post_id}-{page:04d}.json"] = {"comments": []}
    events = []
    for number, (comment_id, post_id, content, community_view) in enumerate(removals, start=1):
        reason = REASONS[number % len(REASONS)] if number % 7 else None
        events.append({"mod_remove_comment": {"id": number, "mod_person_id": 2, "comment_id": comment_id,
                                              "reason": reason, "removed": True, "when_": _time(400 + number)},
                       "moderator": {"id": 2, "name": "newsmod"},
                       "comment": {"id": comment_id, "post_id": post_id, "content": content if number % 2 else ""},
                       "post": {"id": post_id}, "community": community_view})
    first = removals[0]
    events.append({"mod_remove_comment": {"id": 900, "mod_person_id": 2, "comment_id": first[0], "reason": "appeal",
                                          "removed": False, "when_": _time(900)},
                   "moderator": {"id": 2, "name": "newsmod"}, "comment": {"id": first[0], "post_id": first[1]},
                   "community": first[3]})  # the first removal, reverted
    events.append({"mod_remove_comment": {"id": 901, "mod_person_id": 2, "comment_id": 99999,
                                          "reason": "Rule 3: no spam", "removed": True, "when_": _time(901)},
                   "moderator": {"id": 2, "name": "newsmod"}, "comment": {"id": 99999, "post_id": 3000,
                                                                          "content": "buy now"},
                   "community": first[3]})  # a comment of another post: on no page
    files["modlog-remove_comment-0001.json"] = {"removed_comments": events}
    files["modlog-remove_comment-0002.json"] = {"removed_comments": []}
    return files


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    for name, document in build(random.Random(11)).items():
        body = json.dumps(document).encode()  # compact, as Lemmy sends it
        (out / name).write_bytes(body)
        endpoint = ENDPOINTS[name.split("-")[0]]
        lines.append(json.dumps({"url": f"{BASE}/api/v3{endpoint}", "params": {}, "file": name,
                                 "fetched_at": "2024-05-02T12:00:00+00:00", "status": 200,
                                 "sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body), "synthetic": True}))
    (out / "index.jsonl").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "lemmy_archive")
