"""Bug 1 of the hostile run: export must never delete or shadow records it did
not write. content/linkbacks/her-2013.json was written by hand with ids 1 and 2,
the same numbers as the first database rows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from linkbacks import moderation
from linkbacks.store import Store
from tests.linkbacks.support import ALIEN, HER, approved_records

ROOT = Path(__file__).resolve().parents[2]
SLUGS = {"her-2013", "alien-1979"}
LEGACY_HER = {
    "review": "her-2013",
    "linkbacks": [
        {"id": 1, "kind": "trackback", "type": "mention", "source": "https://example.org/blog/voices/",
         "title": "Voices in the machine", "author": "Frame by Frame", "excerpt": "Hand-written one.",
         "date": "2024-03-09T18:40:00+00:00"},
        {"id": 2, "kind": "webmention", "type": "reply", "source": "https://example.com/notes/her/",
         "title": "Re: Her", "author": "Tomasz W.", "excerpt": "Hand-written two.",
         "date": "2024-04-02T07:15:00+00:00"},
    ],
}


def content_with(tmp_path: Path, data: dict) -> Path:
    content = tmp_path / "content"
    (content / "linkbacks").mkdir(parents=True)
    (content / "linkbacks" / "her-2013.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    return content


def approve(store: Store, review: str, source: str, target: str) -> int:
    row = store.add(review=review, source=source, target=target, kind="pingback", title="Received",
                    author="A blog", excerpt="From the receiver.")
    store.set_status(row, "approved")
    return row


def test_export_keeps_hand_written_records_whose_ids_match_database_rows(tmp_path):
    content = content_with(tmp_path, LEGACY_HER)
    store = Store(tmp_path / "linkbacks.sqlite3")
    assert approve(store, "alien-1979", "https://blog.example/alien", ALIEN) == 1
    moderation.export(store, content, SLUGS)
    records = approved_records(content, SLUGS)
    assert [lb.excerpt for lb in records["her-2013"]] == ["Hand-written one.", "Hand-written two."]
    assert [lb.source for lb in records["alien-1979"]] == ["https://blog.example/alien"]


def test_export_adds_a_received_linkback_beside_hand_written_ones_with_the_same_number(tmp_path):
    content = content_with(tmp_path, LEGACY_HER)
    store = Store(tmp_path / "linkbacks.sqlite3")
    assert approve(store, "her-2013", "https://blog.example/her", HER) == 1
    result = moderation.export(store, content, SLUGS)
    assert [p.name for p in result.written] == ["her-2013.json"]
    records = approved_records(content, SLUGS)["her-2013"]
    assert sorted(lb.excerpt for lb in records) == ["From the receiver.", "Hand-written one.", "Hand-written two."]


def test_the_sample_records_file_uses_ids_no_export_can_claim(tmp_path):
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content" / "linkbacks", content / "linkbacks")
    store = Store(tmp_path / "linkbacks.sqlite3")
    approve(store, "alien-1979", "https://blog.example/alien", ALIEN)
    approve(store, "her-2013", "https://blog.example/her", HER)
    moderation.export(store, content, SLUGS)
    ids = [lb.id for lb in approved_records(content, SLUGS)["her-2013"]]
    assert sorted(ids) == ["hand-1", "hand-2", "receiver-2"]
