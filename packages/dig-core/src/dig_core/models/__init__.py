"""What DiG knows about the models it trains: model families and their coordinate conventions, the
model's real processor (``vlm``), and tiny local Qwen-VL models built from configs (``tiny``) with
their chat templates (``chat_templates/*.jinja``, package data)."""
