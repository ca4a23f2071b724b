"""PERSON recognizers without a downloaded model: name lists, capitalization and context.

English (`names_en`): capitalized runs judged by honorifics, name slots (after "my name is",
"Cardholder", "From:"; before " <mail>", ", MD"; chat speakers; signature lines) and, outside a
slot, by first- and last-name lists from the US Census and Faker.

Chinese (`names_zh`): a surname and one or two given-name characters, confirmed by a role
or kinship word before ("客服", "收款人", "我老公"), a title after ("先生", "老师"), a frame
("和…一起", "跟…说") or a chat-export speaker line; ordinary words that start with a surname
character ("居然", "高中", "幸福") are rejected by a frequency list derived from jieba's
dictionary at build time.

No segmenter or model runs at scan time: jieba costs about 1 s to load and far more per text than
these regexes; `benchmarks/bench_pii.py --corpus independent` compares the two.
"""

from __future__ import annotations

from datawheel.privacy.names_en import EnPersonRecognizer
from datawheel.privacy.names_lists import load_list
from datawheel.privacy.names_zh import CnPersonRecognizer

__all__ = ["CnPersonRecognizer", "EnPersonRecognizer", "load_list"]
