"""Department routing: train, save, load (no pickles), evaluate; the CLI contract."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.conftest import SHARED_DATA
from urbanops.cli.main import app
from urbanops.domains.civic.route import RouteModel, evaluate, read_complaints, train
from urbanops.errors import ValidationError

NYC = SHARED_DATA / "civic" / "311_nyc_sample.csv"

TRAIN = [
    ("가로등이 꺼져 있어요", "도로과"),
    ("가로등 고장 신고합니다", "도로과"),
    ("도로에 큰 구멍이 났어요", "도로과"),
    ("보도블록이 깨졌어요", "도로과"),
    ("쓰레기 수거가 안 됐어요", "청소과"),
    ("음식물 쓰레기 냄새가 심해요", "청소과"),
    ("무단투기 쓰레기 치워 주세요", "청소과"),
    ("대형 폐기물 수거 요청", "청소과"),
    ("불법 주차 차량 신고", "주차관리과"),
    ("소화전 앞 주차 단속해 주세요", "주차관리과"),
    ("견인된 차 어디 있나요", "주차관리과"),
    ("거주자 주차 구역 침범", "주차관리과"),
]


def _csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    pd.DataFrame(rows, columns=["text", "department"]).to_csv(path, index=False)
    return path


def test_train_save_load_suggest(tmp_path: Path) -> None:
    texts, depts = zip(*TRAIN, strict=True)
    model = train(list(texts), list(depts))
    path = model.save(tmp_path / "router.npz")
    again = RouteModel.load(path)
    top = again.suggest("가로등 불이 안 들어와요")
    assert top[0]["department"] == "도로과" and len(top) == 3
    assert sum(s["score"] for s in top) == pytest.approx(1.0, abs=1e-3)
    assert again.suggest("주차 단속 요청")[0]["department"] == "주차관리과"
    result = evaluate(again, ["쓰레기 수거 요청"], ["청소과"])
    assert result == {"top1": 1.0, "top3": 1.0, "n": 1}


def test_cli_train_and_eval_contract(tmp_path: Path) -> None:
    data = _csv(tmp_path / "train.csv", TRAIN)
    model = tmp_path / "router.npz"
    res = CliRunner().invoke(
        app, ["civic", "route", "train", "--data", str(data), "--out", str(model)]
    )
    assert res.exit_code == 0, res.output
    held = _csv(
        tmp_path / "held.csv", [("가로등이 깜빡여요", "도로과"), ("쓰레기 봉투 수거", "청소과")]
    )
    res = CliRunner().invoke(
        app, ["civic", "route", "eval", "--model", str(model), "--data", str(held), "--json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert set(out) == {"top1", "top3", "n"} and out["n"] == 2 and out["top3"] == 1.0


def test_bad_routing_input(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("complaint,agency\na,b\n")
    with pytest.raises(ValidationError, match="text,department"):
        read_complaints(bad)
    bad.write_text("text,department\n,roads\n")
    with pytest.raises(ValidationError, match="line 2"):
        read_complaints(bad)
    with pytest.raises(ValidationError, match="two departments"):
        train(["a", "b"], ["x", "x"])
    fake = tmp_path / "model.npz"
    fake.write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(ValidationError, match="not a routing model"):
        RouteModel.load(fake)
    res = CliRunner().invoke(
        app, ["civic", "route", "eval", "--model", str(fake), "--data", str(bad)]
    )
    assert res.exit_code == 1 and "error:" in res.output


@pytest.mark.skipif(not NYC.is_file(), reason="shared data absent")
def test_real_311_complaints_route_above_chance() -> None:
    d = pd.read_csv(NYC, low_memory=False)
    d = d[d["Agency"].notna() & d["Complaint Type"].notna()].sample(frac=1, random_state=1)
    text = (d["Complaint Type"] + ". " + d["Descriptor"].fillna("")).tolist()
    dept = d["Agency"].tolist()
    cut = int(len(d) * 0.7)
    model = train(text[:cut], dept[:cut])
    result = evaluate(model, text[cut:], dept[cut:])
    assert result["top1"] > 0.9 and result["top3"] >= result["top1"]
