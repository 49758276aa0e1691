"""llama.cpp's token ids and chat renderings for tests/serve/engine/tokenizer_families_test.cpp.

For a fixed multilingual text (English, contractions, code, CJK, emoji, whitespace runs,
numbers, accents) this records the ids llama.cpp's tokenizer (llama-cpp-python, vocab only)
gives for:
  - SmolLM2-135M-Instruct (GPT-2 byte-level BPE, pre-tokenizer `smollm`),
  - Gemma 3 270M (SentencePiece with byte fallback),
  - the BPE pre-tokenizers of Qwen2 (`qwen2`) and Llama 3 (`llama-bpe`): vocabulary-only GGUF
    copies of SmolLM2's metadata (its real vocabulary and merges) with tokenizer.ggml.pre set
    to the family's value, so that the pre-tokenizer's split is what differs;
and, for each model's chat template (SmolLM2's from its GGUF; Gemma 3's as google/gemma-3 ships
it, the 270M GGUF carrying none), the Jinja rendering (jinja2 as
llama-cpp-python renders GGUF templates: trim_blocks, lstrip_blocks) of a few conversations,
with the leading bos_token of a template that writes one removed (gearbox adds BOS as a token when the file's
add_bos_token says so, not as text).

Usage (bench/serve/make_tokenizer_reference.sh runs it in its venv):
  python bench/serve/tokenizer_reference.py MODELS_DIR OUT_JSON
"""

import json
import os
import sys
import tempfile

import gguf
import jinja2
import jinja2.sandbox
import llama_cpp

TEXTS = [
    "Hello world! It's a test, isn't it? I'M SURE they'LL agree; WE'VE seen it, DON'T worry.",
    "def square(x):\n    return x ** 2  # squared\n\n\tif (a <= b && c != d) { y = a->c[i]; }\n",
    "東京は日本の首都です。北京是中国的首都。서울은 한국의 수도입니다。",
    "I ❤️ pizza 🍕 and my family 👩‍👩‍👧!! 🎉🎉 ok👍",
    "a  b   c    \n\n\n  d\t\te \r\n f   ",
    "   leading spaces, then trailing ones   ",
    "1234567 3.14159 1,000,000 2024-12-06 v0.3.36 x2 ½ ² ٣٤٥",
    "Café naïve façade résumé Zürich Ærøskøbing señor ÀÉÎÕÜ",
    "Ελληνικά, Русский текст, עברית, العربية, हिन्दी.",
    "<div class=\"x\">&amp;</div>\n\n// TODO: fix\r\nprint('ok')",
]

CONVERSATIONS = [
    [{"role": "user", "content": "Hello!"}],
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi there"}],
    [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "And 3+3?"},
    ],
    [
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "  Good morning  "},
        {"role": "assistant", "content": "Bonjour"},
        {"role": "user", "content": "Thanks"},
    ],
]

VARIANTS = {"qwen2": "qwen2", "llama-bpe": "llama-bpe", "default": "default"}

# Gemma 3's chat template as google/gemma-3 ships it (tokenizer_config.json): the 270M GGUF
# carries no tokenizer.chat_template, so its rendering is checked on this text.
GEMMA3_CHAT_TEMPLATE = (
    "{{ bos_token }}\n"
    "{%- if messages[0]['role'] == 'system' -%}\n"
    "    {%- if messages[0]['content'] is string -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}\n"
    "    {%- else -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}\n"
    "    {%- endif -%}\n"
    "    {%- set loop_messages = messages[1:] -%}\n"
    "{%- else -%}\n"
    "    {%- set first_user_prefix = \"\" -%}\n"
    "    {%- set loop_messages = messages -%}\n"
    "{%- endif -%}\n"
    "{%- for message in loop_messages -%}\n"
    "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
    "        {{ raise_exception(\"Conversation roles must alternate user/assistant/user/assistant/...\") }}\n"
    "    {%- endif -%}\n"
    "    {%- if (message['role'] == 'assistant') -%}\n"
    "        {%- set role = \"model\" -%}\n"
    "    {%- else -%}\n"
    "        {%- set role = message['role'] -%}\n"
    "    {%- endif -%}\n"
    "    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else \"\") }}\n"
    "    {%- if message['content'] is string -%}\n"
    "        {{ message['content'] | trim }}\n"
    "    {%- elif message['content'] is iterable -%}\n"
    "        {%- for item in message['content'] -%}\n"
    "            {%- if item['type'] == 'image' -%}\n"
    "                {{ '<start_of_image>' }}\n"
    "            {%- elif item['type'] == 'text' -%}\n"
    "                {{ item['text'] | trim }}\n"
    "            {%- endif -%}\n"
    "        {%- endfor -%}\n"
    "    {%- else -%}\n"
    "        {{ raise_exception(\"Invalid content type\") }}\n"
    "    {%- endif -%}\n"
    "    {{ '<end_of_turn>\n' }}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "    {{'<start_of_turn>model\n'}}\n"
    "{%- endif -%}\n")


def field_value(field):
    """A reader field's value as GGUFWriter.add_key_value takes it."""
    vtype = field.types[0]
    if vtype == gguf.GGUFValueType.ARRAY:
        sub = field.types[1]
        if sub == gguf.GGUFValueType.STRING:
            vals = [bytes(field.parts[i]).decode("utf-8") for i in field.data]
        else:
            vals = [field.parts[i].tolist()[0] for i in field.data]
        return vals, vtype, sub
    if vtype == gguf.GGUFValueType.STRING:
        return bytes(field.parts[field.data[0]]).decode("utf-8"), vtype, None
    return field.parts[field.data[0]].tolist()[0], vtype, None


def vocab_only_variant(src, pre, dst):
    """Writes `dst`: every metadata key of `src` (no tensors), tokenizer.ggml.pre = `pre`."""
    reader = gguf.GGUFReader(src)
    arch = reader.fields["general.architecture"]
    writer = gguf.GGUFWriter(dst, bytes(arch.parts[arch.data[0]]).decode())
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture":
            continue
        value, vtype, sub = field_value(field)
        if name == "tokenizer.ggml.pre":
            value = pre
        writer.add_key_value(name, value, vtype, sub_type=sub)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def token_ids(path):
    llm = llama_cpp.Llama(path, vocab_only=True, verbose=False)
    return [llm.tokenize(t.encode("utf-8"), add_bos=False, special=False) for t in TEXTS], llm


def chat_renderings(llm, template, source):
    bos = llm.detokenize([llm.token_bos()], special=True).decode("utf-8") if llm.token_bos() >= 0 else ""
    eos = llm.detokenize([llm.token_eos()], special=True).decode("utf-8") if llm.token_eos() >= 0 else ""

    def raise_exception(msg):
        raise jinja2.exceptions.TemplateError(msg)

    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        loader=jinja2.BaseLoader(), trim_blocks=True, lstrip_blocks=True
    )
    tmpl = env.from_string(template)
    out = []
    for conv in CONVERSATIONS:
        text = tmpl.render(
            messages=conv,
            add_generation_prompt=True,
            bos_token=bos,
            eos_token=eos,
            raise_exception=raise_exception,
        )
        if bos and "bos_token" in template and text.startswith(bos):
            text = text[len(bos):]
        out.append({"messages": conv, "text": text})
    return {"template": template, "source": source, "renderings": out}


def main():
    models_dir, out_path = sys.argv[1], sys.argv[2]
    smollm = os.path.join(models_dir, "SmolLM2-135M-Instruct-Q4_1.gguf")
    gemma = os.path.join(models_dir, "gemma-3-270m-Q4_K_M.gguf")
    result = {
        "llama_cpp_python": llama_cpp.__version__,
        "texts": TEXTS,
        "models": {},
    }
    for name, path in [("SmolLM2-135M-Instruct-Q4_1", smollm), ("gemma-3-270m-Q4_K_M", gemma)]:
        ids, llm = token_ids(path)
        template = llm.metadata.get("tokenizer.chat_template")
        source = "the GGUF's tokenizer.chat_template"
        if not template and name.startswith("gemma-3"):
            template, source = GEMMA3_CHAT_TEMPLATE, "google/gemma-3 tokenizer_config.json"
        result["models"][name] = {
            "pre": llm.metadata.get("tokenizer.ggml.pre", ""),
            "ids": ids,
            "chat": chat_renderings(llm, template, source),
        }
        del llm
    with tempfile.TemporaryDirectory() as tmp:
        for key, pre in VARIANTS.items():
            dst = os.path.join(tmp, f"smollm2-vocab-{key}.gguf")
            vocab_only_variant(smollm, pre, dst)
            ids, llm = token_ids(dst)
            assert llm.metadata.get("tokenizer.ggml.pre") == pre, llm.metadata.get("tokenizer.ggml.pre")
            result["models"][f"SmolLM2-135M-Instruct-Q4_1@{key}"] = {"pre": pre, "ids": ids}
            del llm
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
