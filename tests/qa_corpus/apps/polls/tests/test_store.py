import pytest

from main import Poll, PollClosed, PollNotFound, PollStore


def test_create_assigns_ids_and_zero_votes():
    store = PollStore()
    first = store.create("Lunch?", ["pizza", "sushi"])
    second = store.create("Dinner?", ["a", "b", "c"])
    assert (first.id, second.id) == (1, 2)
    assert first.votes == [0, 0]
    assert second.votes == [0, 0, 0]
    assert store.all() == [first, second]


def test_get_unknown_poll():
    with pytest.raises(PollNotFound):
        PollStore().get(1)


def test_vote_counts():
    store = PollStore()
    poll = store.create("Q", ["a", "b"])
    store.vote(poll.id, 1)
    store.vote(poll.id, 1)
    store.vote(poll.id, 0)
    assert poll.votes == [1, 2]


@pytest.mark.parametrize("option", [-1, 2, 10])
def test_vote_out_of_range(option):
    store = PollStore()
    poll = store.create("Q", ["a", "b"])
    with pytest.raises(ValueError, match="option must be between 0 and 1"):
        store.vote(poll.id, option)
    assert poll.votes == [0, 0]


def test_vote_on_closed_poll():
    store = PollStore()
    poll = store.create("Q", ["a", "b"])
    store.close(poll.id)
    assert poll.closed
    with pytest.raises(PollClosed):
        store.vote(poll.id, 0)


def test_results_percentages():
    poll = Poll(id=1, question="Q", options=["a", "b", "c"], votes=[1, 2, 0])
    assert PollStore.results(poll) == [
        {"option": "a", "votes": 1, "percent": 33.3},
        {"option": "b", "votes": 2, "percent": 66.7},
        {"option": "c", "votes": 0, "percent": 0.0},
    ]


def test_results_without_votes():
    poll = Poll(id=1, question="Q", options=["a", "b"], votes=[0, 0])
    assert [r["percent"] for r in PollStore.results(poll)] == [0.0, 0.0]


def test_winners_and_ties():
    assert PollStore.winners(Poll(1, "Q", ["a", "b", "c"], [3, 5, 1])) == ["b"]
    assert PollStore.winners(Poll(1, "Q", ["a", "b", "c"], [4, 1, 4])) == ["a", "c"]
    assert PollStore.winners(Poll(1, "Q", ["a", "b"], [0, 0])) == []
