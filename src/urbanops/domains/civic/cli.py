"""``urbanops civic``: ask the FAQ bot; train and evaluate complaint routing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from urbanops.cli.common import fail as _fail
from urbanops.cli.common import out
from urbanops.errors import UrbanOpsError

app = typer.Typer(help="Civil-service chatbot and complaints.", no_args_is_help=True)
route_app = typer.Typer(
    help="Suggest the department that handles a complaint.", no_args_is_help=True
)
app.add_typer(route_app, name="route")


@app.command("ask")
def ask_cmd(
    question: Annotated[str, typer.Argument(help="The resident's question (Korean or English)")],
    kb: Annotated[
        Path | None, typer.Option("--kb", help="Knowledge base CSV/YAML (default: the starter)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Answer a question from the knowledge base, or say it goes to staff (no server needed)."""
    from urbanops.domains.civic.kb import read_kb, starter_kb
    from urbanops.domains.civic.retrieve import Retriever

    try:
        base = read_kb(kb) if kb is not None else starter_kb()
        answer = Retriever(base).ask(question)
    except UrbanOpsError as exc:
        _fail(exc.detail)
        return
    if as_json:
        out.print_json(json.dumps(answer.as_dict(), ensure_ascii=False))
    elif answer.handoff:
        out.print(
            f"(hand-off to staff; best match {answer.candidates[0]['id']} at {answer.score:.2f})",
            highlight=False,
        )
    else:
        out.print(
            f"[{answer.answer_id} {answer.score:.2f}] {answer.answer}",
            highlight=False,
            markup=False,
        )


@route_app.command("train")
def route_train_cmd(
    data: Annotated[Path, typer.Option("--data", help="Past complaints CSV: text,department")],
    model_out: Annotated[Path, typer.Option("--out", help="Model file to write (.npz)")],
) -> None:
    """Train the department router on past complaints."""
    from urbanops.domains.civic.route import read_complaints, train

    try:
        texts, depts = read_complaints(data)
        model = train(texts, depts)
    except UrbanOpsError as exc:
        _fail(exc.detail)
        return
    model.save(model_out)
    out.print(
        f"trained on {len(texts):,} complaints, {len(model.departments)} departments "
        f"-> {model_out}",
        highlight=False,
    )


@route_app.command("eval")
def route_eval_cmd(
    model_path: Annotated[Path, typer.Option("--model", help="A model from route train")],
    data: Annotated[Path, typer.Option("--data", help="Held-out complaints CSV: text,department")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Top-1 and top-3 accuracy of a router on held-out complaints."""
    from urbanops.domains.civic.route import RouteModel, evaluate, read_complaints

    try:
        model = RouteModel.load(model_path)
        texts, depts = read_complaints(data)
        result = evaluate(model, texts, depts)
    except UrbanOpsError as exc:
        _fail(exc.detail)
        return
    if as_json:
        out.print(json.dumps(result), highlight=False)
    else:
        out.print(
            f"top-1 {100 * result['top1']:.1f} %, top-3 {100 * result['top3']:.1f} % "
            f"on {result['n']:,} complaints",
            highlight=False,
        )
