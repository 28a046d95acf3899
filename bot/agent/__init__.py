"""The agent: a model adapter over litellm, tools run in the sandbox, and the loop joining them."""
