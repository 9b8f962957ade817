#!/usr/bin/env python3
"""scenarios/schema.json and the scenario loader (harness/src/scenario.c) agree.

1. The schema is a valid draft-07 schema; its event names are core/include/kp/event.h's.
2. Every scenario in the repository (scenarios/, tests/data/scenarios/good) validates against
   the schema and loads (`kpsim validate`); every fixture under scenarios/fixtures validates
   against #/$defs/fixture.
3. Mutations of those documents: an unknown key added to every mapping must get the same
   verdict from both (rejected by both, or accepted by both where the schema leaves a mapping
   open, e.g. payloads); a key removed, a text value replaced by one outside any enum, a value
   replaced by a mapping or a negative number: whatever the schema rejects the loader rejects
   too (the loader checks more than a schema can say: references between entries, steps ...).
4. Every property name the schema lists is used by at least one document both accept.

Needs python3-jsonschema and python3-yaml (tools/install-deps.sh): without them the test
FAILS, it is never skipped. Usage: test_schema.py SOURCE_DIR KPSIM_BINARY
"""
import copy
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

try:
    import jsonschema
    import yaml
except ImportError as e:  # never skip: CI must have the validator
    print(f"FAIL: {e}: install python3-jsonschema and python3-yaml (tools/install-deps.sh)")
    sys.exit(1)

SRC, KPSIM = sys.argv[1], sys.argv[2]


class Loader(yaml.SafeLoader):
    """YAML typed the way the scenario loader types it: only true/false are booleans, no
    timestamps, no sexagesimal or 0x numbers."""


Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag not in (
        "tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float")]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"),
                             list("tf"))
Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^(?:[0-9]+)$"),
                             list("0123456789"))
Loader.add_implicit_resolver("tag:yaml.org,2002:float",
                             re.compile(r"^(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"),
                             list("0123456789."))

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)


schema = json.load(open(os.path.join(SRC, "scenarios/schema.json")))
jsonschema.Draft7Validator.check_schema(schema)
validator = jsonschema.Draft7Validator(schema)
fixture_schema = dict(schema)
fixture_schema = {"$ref": "#/$defs/fixture", "$defs": schema["$defs"]}
fixture_validator = jsonschema.Draft7Validator(fixture_schema)

# 1. events
events = re.findall(r'XX\([A-Z_0-9]+, "([^"]+)"\)',
                    open(os.path.join(SRC, "core/include/kp/event.h")).read())
in_schema = schema["$defs"]["event"]["anyOf"][0]["enum"]
if sorted(events) != sorted(in_schema):
    fail("$defs.event.anyOf[0].enum in scenarios/schema.json differs from kp/event.h: "
         f"missing {sorted(set(events) - set(in_schema))}, "
         f"extra {sorted(set(in_schema) - set(events))}")


def loader_verdicts(docs):
    """{index: accepted?} from one `kpsim validate` over the documents written as files."""
    with tempfile.TemporaryDirectory() as d:
        paths = []
        for i, doc in enumerate(docs):
            p = os.path.join(d, f"m{i:06d}.yaml")
            with open(p, "w") as f:
                f.write(doc if isinstance(doc, str) else json.dumps(doc))
            paths.append(p)
        r = subprocess.run([KPSIM, "validate", d], capture_output=True, text=True)
        bad = set()
        for line in r.stderr.splitlines():
            m = re.match(r"(.*?/m(\d{6})\.yaml)[:]", line)
            if m:
                bad.add(int(m.group(2)))
            else:
                fail(f"kpsim validate printed an unlocated line: {line}")
        if r.returncode not in (0, 2):
            fail(f"kpsim validate exited {r.returncode}: {r.stderr[-500:]}")
        return {i: i not in bad for i in range(len(docs))}


# 2. the repository's documents
files = sorted(glob.glob(os.path.join(SRC, "scenarios/**/*.yaml"), recursive=True)) + \
    sorted(glob.glob(os.path.join(SRC, "tests/data/scenarios/good/*.yaml")))
docs = {}
for f in files:
    text = open(f).read()
    doc = yaml.load(text, Loader=Loader)
    rel = os.path.relpath(f, SRC)
    is_fixture = "/fixtures/" in f
    if not is_fixture and not text.startswith("# yaml-language-server: $schema=") and \
            rel.startswith("scenarios/"):
        fail(f"{rel}: no yaml-language-server modeline on the first line")
    errs = list((fixture_validator if is_fixture else validator).iter_errors(doc))
    for e in errs[:3]:
        fail(f"{rel}: the schema rejects it: {'/'.join(map(str, e.absolute_path))}: {e.message}")
    if not is_fixture and not errs:
        docs[rel] = doc
r = subprocess.run([KPSIM, "validate"] + [f for f in files if "/fixtures/" not in f],
                   capture_output=True, text=True)
if r.returncode != 0:
    fail(f"kpsim validate rejects repository scenarios:\n{r.stderr}")


# 3. mutations
def walk(node, path=(), items=None):
    """Every node with its path; with items, only the first `items` of each list (event
    sequences repeat one shape many times)."""
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, path + (k,), items)
    elif isinstance(node, list):
        for i, v in enumerate(node[:items] if items else node):
            yield from walk(v, path + (i,), items)


def get(doc, path):
    for p in path:
        doc = doc[p]
    return doc


def set_at(doc, path, value):
    get(doc, path[:-1])[path[-1]] = value


def rename(doc, i):
    if isinstance(doc, dict) and isinstance(doc.get("name"), str):
        doc["name"] = doc["name"] + f" #{i}"
    return doc


mutations = []  # (description, document, relation) relation: "equal" | "implies"
seen = set()  # one mutation per kind, key path (list indices folded) and value shape


def once(kind, path, node, extra=""):
    sig = (kind, tuple(p if isinstance(p, str) else "#" for p in path), type(node).__name__,
           extra)
    if sig in seen:
        return False
    seen.add(sig)
    return True


for rel, doc in docs.items():
    if "include" in doc:
        continue  # relative paths: checked as they are above
    for path, node in walk(doc, items=3):
        where = f"{rel}:{'.'.join(map(str, path)) or '<top>'}"
        if isinstance(node, dict) and once("add", path, node, ",".join(sorted(node))):
            m = copy.deepcopy(doc)
            get(m, path)["zz_unknown_key"] = 1
            mutations.append((f"{where}: unknown key added", m, "equal"))
            for k in node:
                m = copy.deepcopy(doc)
                del get(m, path)[k]
                mutations.append((f"{where}: key '{k}' removed", m, "implies"))
        if not path or not once("value", path, node):
            continue
        if isinstance(node, str):
            m = copy.deepcopy(doc)
            set_at(m, path, "zz-not-a-valid-value")
            mutations.append((f"{where}: text replaced", m, "implies"))
        if isinstance(node, (int, float)) and not isinstance(node, bool):
            m = copy.deepcopy(doc)
            set_at(m, path, -1)
            mutations.append((f"{where}: number made negative", m, "implies"))
        if not isinstance(node, (dict, list)):
            m = copy.deepcopy(doc)
            set_at(m, path, {"zz": 1})
            mutations.append((f"{where}: value replaced by a mapping", m, "implies"))
docs_m = [rename(m, i) for i, (_, m, _) in enumerate(mutations)]
verdict = loader_verdicts(docs_m)
n_rejected = 0
for i, (what, m, relation) in enumerate(mutations):
    s_ok = validator.is_valid(m)
    l_ok = verdict[i]
    n_rejected += not s_ok
    if relation == "equal" and s_ok != l_ok:
        fail(f"{what}: schema {'accepts' if s_ok else 'rejects'}, loader "
             f"{'accepts' if l_ok else 'rejects'}")
    if relation == "implies" and not s_ok and l_ok:
        fail(f"{what}: the schema rejects it but the loader accepts it")
print(f"{len(mutations)} mutations, {n_rejected} rejected by the schema")

# 4. every property the schema lists is used by an accepted document
listed = set()
for path, node in walk(schema):
    if isinstance(node, dict) and isinstance(node.get("properties"), dict) and \
            "properties" != (path[-1] if path else None):
        listed.update(node["properties"].keys())
used = set()
fixture_docs = [yaml.load(open(f), Loader=Loader) for f in files if "/fixtures/" in f]
for doc in list(docs.values()) + fixture_docs:
    for _, node in walk(doc):
        if isinstance(node, dict):
            used.update(k for k in node.keys() if isinstance(k, str))
missing = sorted(listed - used)
if missing:
    fail(f"schema properties no accepted document uses (add them to "
         f"tests/data/scenarios/good/): {missing}")

if failures:
    print(f"{len(failures)} failure(s)")
    sys.exit(1)
print("schema and loader agree")
