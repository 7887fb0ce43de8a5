"""Drives Juru's OpenAI-compatible endpoint with the official `openai` Python package: chat
(plain and streamed), completions, embeddings, and errors.

Reads JURU_BASE_URL (…/v1) and JURU_TOKEN; prints one JSON object with what it saw, for the
Rust test (crates/juru/tests/it) to check.
"""
import json
import os

import openai
from openai import OpenAI

client = OpenAI(base_url=os.environ["JURU_BASE_URL"], api_key=os.environ["JURU_TOKEN"])
seen = {"openai_version": openai.__version__}

seen["models"] = [m.id for m in client.models.list().data]

question = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is the capital of France? Answer in one word."},
]
chat = client.chat.completions.create(model="smollm2-135m-instruct", messages=question, temperature=0, max_tokens=16)
seen["chat"] = {
    "content": chat.choices[0].message.content,
    "role": chat.choices[0].message.role,
    "finish_reason": chat.choices[0].finish_reason,
    "completion_tokens": chat.usage.completion_tokens,
    "prompt_tokens": chat.usage.prompt_tokens,
}

pieces = []
finish = None
for chunk in client.chat.completions.create(
    model="smollm2-135m-instruct", messages=question, temperature=0, max_tokens=16, stream=True
):
    if chunk.choices and chunk.choices[0].delta.content:
        pieces.append(chunk.choices[0].delta.content)
    if chunk.choices and chunk.choices[0].finish_reason:
        finish = chunk.choices[0].finish_reason
seen["stream"] = {"pieces": len(pieces), "content": "".join(pieces), "finish_reason": finish}

completion = client.completions.create(model="smollm2-135m-instruct", prompt="One, two, three,", max_tokens=8, temperature=0)
seen["completion"] = {"text": completion.choices[0].text, "finish_reason": completion.choices[0].finish_reason}

# Embeddings: the client asks for base64 by default and decodes it; ask for floats too.
sentences = ["A cat sits on the mat.", "A kitten is sitting on a rug.", "The quarterly tax report is due on Friday."]
emb = client.embeddings.create(model="all-minilm-l6-v2", input=sentences)
floats = client.embeddings.create(model="all-minilm-l6-v2", input=sentences, encoding_format="float")
vecs = [d.embedding for d in emb.data]


def dot(a, b):
    return sum(x * y for x, y in zip(a, b))


seen["embeddings"] = {
    "count": len(vecs),
    "dims": len(vecs[0]),
    "norms": [dot(v, v) ** 0.5 for v in vecs],
    "cat_kitten": dot(vecs[0], vecs[1]),
    "cat_tax": dot(vecs[0], vecs[2]),
    "prompt_tokens": emb.usage.prompt_tokens,
    "base64_equals_float": max(abs(x - y) for a, b in zip(vecs, (d.embedding for d in floats.data)) for x, y in zip(a, b)),
}
try:
    client.embeddings.create(model="smollm2-135m-instruct", input="halo")
    seen["embed_with_chat_model"] = "no error"
except openai.BadRequestError as e:
    seen["embed_with_chat_model"] = {"status": e.status_code, "message": str(e)}

try:
    client.chat.completions.create(model="no-such-model", messages=question)
    seen["unknown_model"] = "no error"
except openai.NotFoundError as e:
    seen["unknown_model"] = e.status_code

try:
    client.chat.completions.create(
        model="smollm2-135m-instruct", messages=[{"role": "user", "content": "halo " * 9000}], max_tokens=16
    )
    seen["too_long"] = "no error"
except openai.BadRequestError as e:
    seen["too_long"] = {"status": e.status_code, "message": str(e)}

try:
    OpenAI(base_url=os.environ["JURU_BASE_URL"], api_key="juru_wrong").models.list()
    seen["bad_token"] = "no error"
except openai.AuthenticationError as e:
    seen["bad_token"] = e.status_code

print(json.dumps(seen))
