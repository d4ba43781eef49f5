"""A seeded corpus of hostile potential files, for the reader-agreement test.

``make_corpus(directory, n, seed)`` writes ``n`` files derived from small valid
potentials (one element, and two elements with a core repulsion) by one of
the mutations below, and returns [(path, mutation name, base name)].  Same
seed, same bytes.  ``make_corpus(..., kind="ldos")`` does the same from small
LDOS models (the document mutations that apply to them, and every text one).

Document mutations (on the parsed JSON, then written back):
    delete_key, unknown_key, wrong_type, resize_list, extreme_number,
    block_extreme (an extreme number inside a descriptor block), nest_deep,
    provenance, version, swap_min_max, duplicate_key, pair_names (the keys
    of a per-element-pair bond_cutoff or r0)
Text and byte mutations (on the written text):
    truncate, flip_bytes, bom, trailing, non_utf8, surrogate, nonfinite_token,
    huge_integer, escaped_key, binary, whitespace
"""

from __future__ import annotations

import json
import random
from pathlib import Path

# Small, so that a few hundred files read fast; one block of each kind the
# repulsion and the network care about.
DESCRIPTOR = {"blocks": [
    {"type": "moments", "n_max": 4, "bond_cutoff": 2.9, "r0": 0.0, "decay_lengths": [1.0]},
    {"type": "radial", "cutoff": 4.2, "centers": [2.2, 3.2], "alpha": 2.0},
]}

EXTREMES = [0, -0.0, 1, -1, 1e-7, 5e-324, -5e-324, 1e6, -1e6, 1000000.0000001, 1e7, 1e300, -1e300,
            1e308, -1.7976931348623157e308, 2**31, 2**53 + 1, 2**63, 2**64 - 1, 2**64, 4294967297,
            -(2**63), 0.1, 0.05, 20.0, 20.000001, 118, 119, 1e-300]
WRONG_TYPES = [None, True, False, "x", "", [], {}, [1.0], {"a": 1}, 1, 1.5, "1.5"]


def base_documents():
    """Valid starting points: {name: document}. "SiO-pairs" gives the moments
    block's bond_cutoff and r0 per element pair."""
    from tinynet.potential_file import random_potential

    si = random_potential(["Si"], DESCRIPTOR, hidden=(3,), seed=1)
    sio = random_potential(["Si", "O"], DESCRIPTOR, hidden=(2, 2), seed=2)
    sio["core_repulsion"] = {"type": "zbl", "atomic_numbers": {"Si": 14, "O": 8},
                             "pairs": {"Si-Si": {"inner": 1.5, "outer": 2.1},
                                       "Si-O": {"inner": 1.0, "outer": 1.6},
                                       "O-O": {"inner": 1.2, "outer": 1.8}}}
    pairs = _copy(sio)
    pairs["descriptor"]["blocks"][0].update(bond_cutoff={"Si-Si": 2.9, "O-Si": 2.0, "O-O": 2.7},
                                            r0={"Si-Si": 2.35, "Si-O": 1.6, "O-O": 0.0})
    return {"Si": si, "SiO": sio, "SiO-pairs": pairs}


def ldos_base_documents():
    """Valid LDOS models: {name: document}."""
    from tinynet.ldos_file import random_ldos_model

    si = random_ldos_model(["Si"], DESCRIPTOR, n_points=5, hidden=(3,), seed=1)
    sio = random_ldos_model(["Si", "O"], DESCRIPTOR, n_points=4, hidden=(2, 2), seed=2)
    sio["descriptor"]["blocks"][0].update(bond_cutoff={"Si-Si": 2.9, "O-Si": 2.0, "O-O": 0.0})
    return {"Si": si, "SiO": sio}


# --------------------------------------------------------------------------
# walking a document: every (parent, key) slot

def _slots(doc, path=()):
    """All (parent, key, path) of values in a JSON document, depth first."""
    out = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else []
    for k, v in items:
        out.append((doc, k, path + (k,)))
        out.extend(_slots(v, path + (k,)))
    return out


def _copy(doc):
    return json.loads(json.dumps(doc))


def _numbers(doc):
    return [s for s in _slots(doc) if isinstance(s[0][s[1]], (int, float)) and not isinstance(s[0][s[1]], bool)]


# --------------------------------------------------------------------------
# document mutations: doc -> text

def delete_key(doc, rng):
    keyed = [s for s in _slots(doc) if isinstance(s[0], dict)]
    parent, key, _ = rng.choice(keyed)
    del parent[key]
    return json.dumps(doc)


def unknown_key(doc, rng):
    objects = [doc] + [s[0][s[1]] for s in _slots(doc) if isinstance(s[0][s[1]], dict)]
    rng.choice(objects)[rng.choice(["cutof", "extra", "Si", "weights", "comment"])] = 1.0
    return json.dumps(doc)


def wrong_type(doc, rng):
    parent, key, _ = rng.choice(_slots(doc))
    parent[key] = _copy(rng.choice(WRONG_TYPES))
    return json.dumps(doc)


def resize_list(doc, rng):
    lists = [s[0][s[1]] for s in _slots(doc) if isinstance(s[0][s[1]], list) and s[0][s[1]]]
    target = rng.choice(lists)
    if rng.random() < 0.5:
        target.pop(rng.randrange(len(target)))
    else:
        target.append(_copy(rng.choice(target)))
    return json.dumps(doc)


def network_extreme(doc, rng):
    """An extreme value in a network's layers or normalisation (its bounds)."""
    model = rng.choice(list(doc["models"].values()))
    slots = [s for s in _numbers(model)]
    parent, key, _ = rng.choice(slots)
    parent[key] = rng.choice(EXTREMES)
    return json.dumps(doc)


def extra_layers(doc, rng):
    """Identity layers inserted before the last: at most 16 layers in all."""
    model = rng.choice(list(doc["models"].values()))
    width = len(model["layers"][0]["bias"])
    identity = {"weights": [[float(i == j) for j in range(width)] for i in range(width)],
                "bias": [0.0] * width, "activation": "linear"}
    for _ in range(rng.choice([1, 14 - len(model["layers"]), 15 - len(model["layers"]), 20])):
        model["layers"].insert(1, _copy(identity))
    return json.dumps(doc)


def extreme_number(doc, rng):
    """An extreme value anywhere except inside the descriptor blocks."""
    slots = [s for s in _numbers(doc) if s[2][0] != "descriptor"]
    parent, key, _ = rng.choice(slots)
    parent[key] = rng.choice(EXTREMES)
    return json.dumps(doc)


def block_extreme(doc, rng):
    """An extreme value inside a descriptor block (their readers' bounds)."""
    slots = [s for s in _numbers(doc) if s[2][0] == "descriptor"]
    parent, key, _ = rng.choice(slots)
    parent[key] = rng.choice(EXTREMES)
    return json.dumps(doc)


def nest_deep(doc, rng):
    """Arrays and objects nested `depth` deep (as text: deeper than Python's
    own json module can write)."""
    depth = rng.choice([10, 55, 58, 59, 60, 61, 62, 63, 64, 70, 200, 5000])
    opens, closes = [], []
    for _ in range(depth):
        if rng.random() < 0.5:
            opens.append("[")
            closes.append("]")
        else:
            opens.append('{"a": ')
            closes.append("}")
    nested = "".join(opens) + "[]" + "".join(reversed(closes))
    if rng.random() < 0.5:
        doc.setdefault("provenance", {})["deep"] = "@DEEP@"
    else:
        next(iter(doc["models"].values()))["e0"] = "@DEEP@"
    return json.dumps(doc).replace('"@DEEP@"', nested)


def provenance(doc, rng):
    doc["provenance"] = _copy(rng.choice([None, [], 1, "text", {}, {"a": {"b": [1, None, True]}},
                                          {"errors": {"x": 1e300}}, True]))
    return json.dumps(doc)


def version(doc, rng):
    doc["version"] = rng.choice([0, 2, -1, 1.0, "1", 4294967297, 2**64 + 1, 2**63, True, 1])
    return json.dumps(doc)


def swap_min_max(doc, rng):
    model = rng.choice(list(doc["models"].values()))
    f = rng.randrange(len(model["feature_min"]))
    model["feature_min"][f], model["feature_max"][f] = 1.0, rng.choice([0.5, 1.0, 2.0])
    return json.dumps(doc)


def pair_names(doc, rng):
    """A key of a per-element-pair bond_cutoff or r0 reversed (valid), given
    twice, dropped, or misspelt (a block with one number per key first gets
    an object of its pairs)."""
    block = doc["descriptor"]["blocks"][0]
    key = rng.choice(["bond_cutoff", "r0"])
    if not isinstance(block[key], dict):
        elements = doc["elements"]
        block[key] = {f"{a}-{b}": block[key] for s, a in enumerate(elements) for b in elements[s:]}
    pairs = block[key]
    name = rng.choice(sorted(pairs))
    reverse = "-".join(reversed(name.split("-")))
    edit = rng.choice(["reverse", "twice", "drop", "unknown", "no_dash"])
    if edit == "reverse":
        pairs[reverse] = pairs.pop(name)
    elif edit == "twice":
        pairs[reverse if reverse != name else name + "-" + name] = pairs[name]
    elif edit == "drop":
        del pairs[name]
    elif edit == "unknown":
        pairs[name.split("-")[0] + "-Xx"] = pairs.pop(name)
    else:
        pairs[name.replace("-", "")] = pairs.pop(name)
    return json.dumps(doc)


def duplicate_key(doc, rng):
    """A key repeated in one object (text level: JSON objects are dicts here)."""
    text = json.dumps(doc)
    key = rng.choice(['"cutoff": ', '"e0": ', '"format": ', '"activation": ', '"type": ', '"inner": '])
    at = text.find(key)
    if at < 0:
        at = text.find('"cutoff": ')
        key = '"cutoff": '
    return text[:at] + key + "99, " + text[at:]


# --------------------------------------------------------------------------
# text and byte mutations: valid text -> bytes

def truncate(text, rng):
    data = text.encode()
    return data[:rng.randrange(len(data))]


def flip_bytes(text, rng):
    data = bytearray(text.encode())
    for _ in range(rng.randint(1, 3)):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return bytes(data)


def bom(text, rng):
    return b"\xef\xbb\xbf" + text.encode()


def trailing(text, rng):
    return text.encode() + rng.choice([b"\0", b"x", b"{}", b"\n\0", b" ,", b"\n\n  \t\r\n"])


def non_utf8(text, rng):
    at = text.find('"generator": "') + len('"generator": "')
    bad = rng.choice([b"\xff", b"\xe9", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80"])
    data = text.encode()
    return data[:at] + bad + data[at:]


def surrogate(text, rng):
    at = text.find('"generator": "') + len('"generator": "')
    esc = rng.choice(["\\ud800", "\\udfff", "\\ud83d\\ude00", "\\ude00\\ud83d", "\\\\ud800", "\\u00e9"])
    return (text[:at] + esc + text[at:]).encode()


def nonfinite_token(text, rng):
    token = rng.choice(["NaN", "Infinity", "-Infinity"])
    key = rng.choice(['"e0": ', '"cutoff": ', '"seed": ', '"alpha": '])
    at = text.find(key)
    if at < 0:
        return text.encode()
    end = at + len(key)
    stop = min(i for i in (text.find(",", end), text.find("}", end)) if i >= 0)
    return (text[:end] + token + text[stop:]).encode()


def huge_integer(text, rng):
    digits = "9" * rng.choice([19, 20, 25, 400, 5000])
    key = rng.choice(['"e0": ', '"seed": ', '"version": ', '"n_max": '])
    at = text.find(key)
    end = at + len(key)
    stop = min(i for i in (text.find(",", end), text.find("}", end)) if i >= 0)
    return (text[:end] + rng.choice(["", "-"]) + digits + text[stop:]).encode()


def escaped_key(text, rng):
    """Keys spelt with \\u escapes: the same JSON (valid)."""
    return text.replace('"cutoff"', '"\\u0063utoff"', 1).encode()


def whitespace(text, rng):
    return text.replace(", ", rng.choice([",\n", ",\t", " , ", ",\r\n"])).encode()


def binary(text, rng):
    return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))


DOC_MUTATIONS = [delete_key, unknown_key, wrong_type, resize_list, extreme_number, block_extreme,
                 nest_deep, provenance, version, swap_min_max, duplicate_key, pair_names]
LDOS_DOC_MUTATIONS = [delete_key, unknown_key, wrong_type, resize_list, extreme_number, block_extreme,
                      provenance, version, pair_names, network_extreme, extra_layers]
TEXT_MUTATIONS = [truncate, flip_bytes, bom, trailing, non_utf8, surrogate, nonfinite_token,
                  huge_integer, escaped_key, whitespace, binary]


def make_corpus(directory, n=400, seed=20261121, kind="potential"):
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    bases = base_documents() if kind == "potential" else ldos_base_documents()
    doc_mutations = DOC_MUTATIONS if kind == "potential" else LDOS_DOC_MUTATIONS
    corpus = []
    for k in range(n):
        base = rng.choice(sorted(bases))
        doc = _copy(bases[base])
        if k % 2 == 0:
            mutation = rng.choice(doc_mutations)
            data = mutation(doc, rng).encode()
        else:
            mutation = rng.choice(TEXT_MUTATIONS)
            data = mutation(json.dumps(doc, indent=rng.choice([None, 1])), rng)
        path = directory / f"{k:04d}_{mutation.__name__}.tinynet"
        path.write_bytes(data)
        corpus.append((path, mutation.__name__, base))
    return corpus
