"""Polls: a class holds the polls and the counting; the routes translate errors to HTTP."""

from dataclasses import dataclass, field

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field, field_validator

app = FastAPI(title="Polls")


class PollNotFound(Exception):
    pass


class PollClosed(Exception):
    pass


@dataclass
class Poll:
    id: int
    question: str
    options: list[str]
    votes: list[int] = field(default_factory=list)
    closed: bool = False


class PollStore:
    def __init__(self) -> None:
        self._polls: dict[int, Poll] = {}
        self._next_id = 1

    def create(self, question: str, options: list[str]) -> Poll:
        poll = Poll(id=self._next_id, question=question, options=options, votes=[0] * len(options))
        self._polls[poll.id] = poll
        self._next_id += 1
        return poll

    def get(self, poll_id: int) -> Poll:
        try:
            return self._polls[poll_id]
        except KeyError:
            raise PollNotFound(poll_id) from None

    def all(self) -> list[Poll]:
        return list(self._polls.values())

    def vote(self, poll_id: int, option: int) -> Poll:
        poll = self.get(poll_id)
        if poll.closed:
            raise PollClosed(poll_id)
        if not 0 <= option < len(poll.options):
            raise ValueError(f"option must be between 0 and {len(poll.options) - 1}")
        poll.votes[option] += 1
        return poll

    def close(self, poll_id: int) -> Poll:
        poll = self.get(poll_id)
        poll.closed = True
        return poll

    @staticmethod
    def results(poll: Poll) -> list[dict[str, object]]:
        total = sum(poll.votes)
        rows = []
        for option, count in zip(poll.options, poll.votes, strict=True):
            percent = round(100 * count / total, 1) if total else 0.0
            rows.append({"option": option, "votes": count, "percent": percent})
        return rows

    @staticmethod
    def winners(poll: Poll) -> list[str]:
        best = max(poll.votes)
        if best == 0:
            return []
        return [o for o, v in zip(poll.options, poll.votes, strict=True) if v == best]


store = PollStore()


class PollIn(BaseModel):
    question: str = Field(min_length=1, max_length=300)
    options: list[str] = Field(min_length=2, max_length=10)

    @field_validator("question")
    @classmethod
    def strip_question(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("question must not be blank")
        return value

    @field_validator("options")
    @classmethod
    def distinct_options(cls, options: list[str]) -> list[str]:
        cleaned = [o.strip() for o in options]
        if any(not o for o in cleaned):
            raise ValueError("options must not be blank")
        if len({o.lower() for o in cleaned}) != len(cleaned):
            raise ValueError("options must be distinct")
        return cleaned


class VoteIn(BaseModel):
    option: int


class Result(BaseModel):
    option: str
    votes: int
    percent: float


class PollOut(BaseModel):
    id: int
    question: str
    options: list[str]
    closed: bool
    total_votes: int


class ResultsOut(BaseModel):
    id: int
    question: str
    closed: bool
    results: list[Result]
    winners: list[str]


def to_out(poll: Poll) -> PollOut:
    return PollOut(
        id=poll.id,
        question=poll.question,
        options=poll.options,
        closed=poll.closed,
        total_votes=sum(poll.votes),
    )


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/polls", response_model=PollOut, status_code=201)
def create_poll(data: PollIn) -> PollOut:
    return to_out(store.create(data.question, data.options))


@app.get("/polls", response_model=list[PollOut])
def list_polls(open_only: bool = False) -> list[PollOut]:
    return [to_out(p) for p in store.all() if not (open_only and p.closed)]


@app.get("/polls/{poll_id}", response_model=PollOut)
def get_poll(poll_id: int) -> PollOut:
    try:
        return to_out(store.get(poll_id))
    except PollNotFound:
        raise HTTPException(status_code=404, detail="poll not found") from None


@app.post("/polls/{poll_id}/votes", response_model=PollOut)
def vote(poll_id: int, data: VoteIn) -> PollOut:
    try:
        return to_out(store.vote(poll_id, data.option))
    except PollNotFound:
        raise HTTPException(status_code=404, detail="poll not found") from None
    except PollClosed:
        raise HTTPException(status_code=409, detail="poll is closed") from None
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None


@app.post("/polls/{poll_id}/close", response_model=PollOut)
def close_poll(poll_id: int) -> PollOut:
    try:
        return to_out(store.close(poll_id))
    except PollNotFound:
        raise HTTPException(status_code=404, detail="poll not found") from None


@app.get("/polls/{poll_id}/results", response_model=ResultsOut)
def results(poll_id: int) -> ResultsOut:
    try:
        poll = store.get(poll_id)
    except PollNotFound:
        raise HTTPException(status_code=404, detail="poll not found") from None
    return ResultsOut(
        id=poll.id,
        question=poll.question,
        closed=poll.closed,
        results=[Result(**row) for row in PollStore.results(poll)],
        winners=PollStore.winners(poll),
    )
