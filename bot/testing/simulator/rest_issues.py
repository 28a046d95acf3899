"""Issues, issue comments, labels and reactions."""

from __future__ import annotations

from aiohttp import web

from bot.testing.simulator.context import (
    REPO,
    answer,
    found,
    json_body,
    not_found,
    paginate,
    repo_for,
    simulated,
    validation_failed,
)
from bot.testing.simulator.shapes import REACTIONS, label_json
from bot.testing.simulator.shapes_activity import comment_json, issue_json, reaction_json
from bot.testing.simulator.state import Comment, Issue, Pull, Reaction, Repo, now_iso

routes = web.RouteTableDef()


def _issue(repo: Repo, number: str) -> Issue | Pull:
    """The issue or pull request numbered `number` (a path segment); 404 if none."""
    if not number.isdigit():
        raise not_found()
    return repo.issues.get(int(number)) or found(repo.pulls.get(int(number)))


@routes.get(REPO + "/issues/{number}")
async def get_issue(request: web.Request) -> web.Response:
    repo = repo_for(request)
    issue = _issue(repo, request.match_info["number"])
    sim = simulated(request)
    return answer(issue_json(sim.state, repo, issue, sim.urls))


@routes.get(REPO + "/issues/{number}/comments")
async def list_comments(request: web.Request) -> web.Response:
    repo = repo_for(request)
    issue = _issue(repo, request.match_info["number"])
    sim = simulated(request)
    comments = sorted(repo.comments_on(issue.number), key=lambda c: c.id)
    page, headers = paginate(request, comments)
    return answer([comment_json(repo, c, sim.urls) for c in page], headers=headers)


@routes.post(REPO + "/issues/{number}/comments")
async def create_comment(request: web.Request) -> web.Response:
    repo = repo_for(request)
    issue = _issue(repo, request.match_info["number"])
    body = await json_body(request)
    if body is None or not isinstance(body.get("body"), str):
        return validation_failed("IssueComment", "body", "missing_field")
    sim = simulated(request)
    comment = Comment(sim.state.new_id(), issue.number, body["body"], sim.state.app.bot)
    repo.comments[comment.id] = comment
    return answer(comment_json(repo, comment, sim.urls), 201)


@routes.get(REPO + "/issues/comments/{comment_id}")
async def get_comment(request: web.Request) -> web.Response:
    repo = repo_for(request)
    comment = _comment(repo, request.match_info["comment_id"])
    return answer(comment_json(repo, comment, simulated(request).urls))


@routes.patch(REPO + "/issues/comments/{comment_id}")
async def edit_comment(request: web.Request) -> web.Response:
    repo = repo_for(request)
    comment = _comment(repo, request.match_info["comment_id"])
    body = await json_body(request)
    if body is None or not isinstance(body.get("body"), str):
        return validation_failed("IssueComment", "body", "missing_field")
    comment.body = body["body"]
    comment.updated_at = now_iso()
    return answer(comment_json(repo, comment, simulated(request).urls))


@routes.delete(REPO + "/issues/comments/{comment_id}")
async def delete_comment(request: web.Request) -> web.Response:
    repo = repo_for(request)
    comment = _comment(repo, request.match_info["comment_id"])
    del repo.comments[comment.id]
    return web.Response(status=204)


def _comment(repo: Repo, comment_id: str) -> Comment:
    return found(repo.comments.get(int(comment_id)) if comment_id.isdigit() else None)


@routes.post(REPO + "/issues/{number}/labels")
async def add_labels(request: web.Request) -> web.Response:
    repo = repo_for(request)
    issue = _issue(repo, request.match_info["number"])
    body = await json_body(request)
    names = body.get("labels") if body is not None else None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return validation_failed("Label", "labels", "invalid")
    sim = simulated(request)
    for name in names:
        sim.state.label(repo, name)
        if name not in issue.labels:
            issue.labels.append(name)
    issue.updated_at = now_iso()
    return answer([label_json(repo, repo.labels[n], sim.urls) for n in issue.labels])


@routes.delete(REPO + "/issues/{number}/labels/{name}")
async def remove_label(request: web.Request) -> web.Response:
    repo = repo_for(request)
    issue = _issue(repo, request.match_info["number"])
    name = request.match_info["name"]
    if name not in issue.labels:
        return answer({"message": "Label does not exist", "status": "404"}, 404)
    issue.labels.remove(name)
    issue.updated_at = now_iso()
    sim = simulated(request)
    return answer([label_json(repo, repo.labels[n], sim.urls) for n in issue.labels])


@routes.post(REPO + "/issues/comments/{comment_id}/reactions")
async def add_reaction(request: web.Request) -> web.Response:
    repo = repo_for(request)
    comment = _comment(repo, request.match_info["comment_id"])
    body = await json_body(request)
    content = body.get("content") if body is not None else None
    if content not in REACTIONS:
        return validation_failed("Reaction", "content", "invalid")
    sim = simulated(request)
    bot = sim.state.app.bot
    for reaction in comment.reactions:
        if reaction.content == content and reaction.user.login == bot.login:
            return answer(reaction_json(reaction, sim.urls), 200)
    reaction = Reaction(sim.state.new_id(), str(content), bot)
    comment.reactions.append(reaction)
    return answer(reaction_json(reaction, sim.urls), 201)
