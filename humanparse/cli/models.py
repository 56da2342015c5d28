"""List the model zoo: every published weights file by name, its size, licence, sources and cache state.

Examples:
  humanparse models                      # the table; `humanparse download NAME` fetches one
  humanparse models schp_resnet101_lip   # one entry in full: files, SHA-256, every source
  humanparse models --json               # everything, for scripts
"""

from __future__ import annotations

import argparse
import json
from typing import Any, Dict, List


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="NAME", help="show these entries in full")
    parser.add_argument("--json", action="store_true", help="print JSON (one object per entry)")


def _state(entry) -> str:
    """The entry's cache state, from its files' (no hashing beyond files never checked)."""
    from humanparse.zoo import cache

    states = [cache.status(cache.models_dir(), file) for file in entry.files]
    for state in (cache.CHANGED, cache.PARTIAL, cache.MISSING, cache.UNCHECKED):
        if state in states:
            return "partly cached" if state == cache.MISSING and len(set(states)) > 1 else state
    return cache.RECORDED if cache.RECORDED in states else cache.VERIFIED


def _describe(entry) -> Dict[str, Any]:
    from humanparse.registry import RECIPES
    from humanparse.zoo import cache

    folder = cache.models_dir()
    return {
        "name": entry.name,
        "family": entry.family,
        "classes": entry.classes,
        "labels": entry.labels,
        "size": entry.size,
        "licence": entry.licence.name,
        "licence_short": entry.licence.short,
        "commercial_use": entry.licence.commercial,
        "licence_note": entry.licence.note,
        "trained_on": entry.trained_on,
        "recipe": entry.name in RECIPES.names(),
        "automatic_download": entry.automatic,
        "path": str(folder / entry.path_name),
        "cache": _state(entry),
        "notes": entry.notes,
        "files": [
            {
                "name": file.name,
                "size": file.size,
                "sha256": file.sha256,
                "cache": cache.status(folder, file),
                "sources": [
                    {"label": s.label, "url": s.url, "kind": s.kind, **({"code": s.code} if s.code else {})}
                    for s in file.sources
                ],
            }
            for file in entry.files
        ],
    }


def _hashes(entry) -> str:
    """Whether the files' SHA-256 are published: known, none (recorded at the first download) or partly."""
    known = [file.sha256 is not None for file in entry.files]
    return "known" if all(known) else "none" if not any(known) else "partly"


def _short_sources(entry) -> str:
    hosts: List[str] = []
    for file in entry.files:
        for source in file.sources:
            host = {"drive": "Drive", "drive_folder": "Drive folder", "baidu": "Baidu"}.get(source.kind)
            if host is None:
                host = (
                    "HF"
                    if "huggingface.co" in source.url
                    else "GitHub"
                    if "github.com" in source.url
                    else "web"
                )
            if host not in hosts:
                hosts.append(host)
    return "+".join(hosts)


def run(args: argparse.Namespace) -> int:
    from humanparse.errors import ConfigError
    from humanparse.zoo import ZOO
    from humanparse.zoo.cache import models_dir
    from humanparse.zoo.download import human_size

    unknown = [name for name in args.names if name not in ZOO]
    if unknown:
        raise ConfigError(f"not a model-zoo name: {', '.join(unknown)} (`humanparse models` lists them)")
    entries = [ZOO[name] for name in args.names] if args.names else list(ZOO.values())
    described = [_describe(entry) for entry in entries]
    if args.json:
        print(json.dumps(described, indent=1))
        return 0
    if args.names:
        for entry in described:
            _print_details(entry)
        return 0
    rows = [
        (
            e["name"],
            e["family"],
            str(e["classes"]),
            human_size(e["size"]) if e["size"] else "?",
            _hashes(entry),
            e["licence_short"],
            e["commercial_use"],
            _short_sources(entry) + ("" if e["automatic_download"] else " (manual)"),
            e["cache"],
        )
        for e, entry in zip(described, entries)
    ]
    header = ("name", "family", "K", "size", "sha256", "licence", "commercial", "sources", "cache")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip())
    print(
        f"\ncache: {models_dir()} ($HUMANPARSE_CACHE). Licences and every source: `humanparse models NAME`; "
        "fetch: `humanparse download NAME`. Licences as stated by their hosts, not legal advice."
    )
    return 0


def _print_details(entry: Dict[str, Any]) -> None:
    from humanparse.zoo.download import human_size

    print(f"{entry['name']}: {entry['family']}, {entry['classes']} classes ({entry['labels']})")
    print(f"  licence: {entry['licence']}; commercial use: {entry['commercial_use']}")
    if entry["licence_note"]:
        print(f"  note: {entry['licence_note']}")
    print(f"  trained on: {entry['trained_on']}")
    if entry["notes"]:
        print(f"  {entry['notes']}")
    print(f"  recipe: {'yes' if entry['recipe'] else 'none (run by its own code path)'}")
    print(f"  path: {entry['path']} ({entry['cache']})")
    for file in entry["files"]:
        sha = file["sha256"] or "no published hash (recorded at the first download)"
        print(f"  {file['name']}: {human_size(file['size'])}, SHA-256 {sha} [{file['cache']}]")
        for source in file["sources"]:
            code = f" (extraction code {source['code']})" if source.get("code") else ""
            manual = "" if source["kind"] in ("http", "drive") else ", by hand"
            print(f"    - {source['label']}{manual}: {source['url']}{code}")
