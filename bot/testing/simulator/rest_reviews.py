"""Pull request reviews and review comments: list them, and reply in a comment's thread."""

from __future__ import annotations

from aiohttp import web

from bot.testing.simulator.context import (
    REPO,
    answer,
    found,
    json_body,
    paginate,
    repo_for,
    simulated,
    validation_failed,
)
from bot.testing.simulator.rest_pulls import pull_in
from bot.testing.simulator.shapes_pulls import review_comment_json, review_json
from bot.testing.simulator.state import Review, ReviewComment

routes = web.RouteTableDef()
PULL = REPO + "/pulls/{number}"


@routes.get(PULL + "/comments")
async def list_review_comments(request: web.Request) -> web.Response:
    repo = repo_for(request)
    pull = pull_in(repo, request.match_info["number"])
    urls = simulated(request).urls
    page, headers = paginate(request, pull.review_comments)
    return answer([review_comment_json(repo, pull, c, urls) for c in page], headers=headers)


@routes.get(PULL + "/reviews")
async def list_reviews(request: web.Request) -> web.Response:
    repo = repo_for(request)
    pull = pull_in(repo, request.match_info["number"])
    urls = simulated(request).urls
    page, headers = paginate(request, pull.reviews)
    return answer([review_json(repo, pull, r, urls) for r in page], headers=headers)


@routes.get(PULL + "/reviews/{review_id}/comments")
async def list_comments_of_review(request: web.Request) -> web.Response:
    repo = repo_for(request)
    pull = pull_in(repo, request.match_info["number"])
    review_id = request.match_info["review_id"]
    review = found(next((r for r in pull.reviews if str(r.id) == review_id), None))
    urls = simulated(request).urls
    comments = [c for c in pull.review_comments if c.review_id == review.id]
    page, headers = paginate(request, comments)
    return answer([review_comment_json(repo, pull, c, urls) for c in page], headers=headers)


@routes.post(PULL + "/comments/{comment_id}/replies")
async def reply_to_review_comment(request: web.Request) -> web.Response:
    """The caller's reply, in the parent's thread and on its line. As on GitHub, the reply
    comes with a one-comment review in state COMMENTED, and a reply to a reply joins the
    thread's first comment."""
    repo = repo_for(request)
    pull = pull_in(repo, request.match_info["number"])
    comment_id = request.match_info["comment_id"]
    parent = found(next((c for c in pull.review_comments if str(c.id) == comment_id), None))
    body = (await json_body(request) or {}).get("body")
    if not isinstance(body, str) or not body:
        return validation_failed("PullRequestReviewComment", "body", "missing_field")
    sim = simulated(request)
    caller = sim.state.app.bot
    review = Review(sim.state.new_id(), caller, "COMMENTED", "", parent.commit_id)
    reply = ReviewComment(
        id=sim.state.new_id(),
        body=body,
        path=parent.path,
        user=caller,
        commit_id=parent.commit_id,
        diff_hunk=parent.diff_hunk,
        line=parent.line,
        original_line=parent.original_line,
        position=parent.position,
        review_id=review.id,
        in_reply_to_id=parent.in_reply_to_id or parent.id,
    )
    pull.reviews.append(review)
    pull.review_comments.append(reply)
    return answer(review_comment_json(repo, pull, reply, sim.urls), 201)
