"""The lmms-eval bridge: any lmms-eval 0.7 task answered by DiG's model adapters.

- :mod:`dig_eval.lmms.evaluator`: evaluator ``lmms-eval`` for ``dig eval`` (lmms-eval builds the
  prompts and scores; our runner generates, stores and resumes);
- :mod:`dig_eval.lmms.model`: model ``dig`` for lmms-eval itself (entry point ``lmms_eval.models``),
  so ``lmms-eval --model dig --model_args adapter=hf,path=...`` or
  ``simple_evaluate(model=DigLmms(adapter))`` run on the same adapters;
- :mod:`dig_eval.lmms.tasks`: task loading with local data and the tasks we refuse (GPT judges).
"""
