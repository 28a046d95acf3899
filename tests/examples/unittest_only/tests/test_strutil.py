# Expected result: 3 passed, 1 failed (test_words_wrong).
import unittest

from strutil import shout, words


class ShoutTest(unittest.TestCase):
    def test_shout(self) -> None:
        self.assertEqual(shout("hi"), "HI!")

    def test_shout_empty(self) -> None:
        self.assertEqual(shout(""), "!")


class WordsTest(unittest.TestCase):
    def test_words(self) -> None:
        self.assertEqual(words("a b  c"), ["a", "b", "c"])

    def test_words_wrong(self) -> None:
        self.assertEqual(words("a b"), ["a b"])


if __name__ == "__main__":
    unittest.main()
