"""The course's data sets, loaded through the active profile, always in the course schema.

    load_sentiment(profile)   -> DatasetDict  train / validation / test
    stratified_subset(ds, n)  -> Dataset      n rows, each label keeping its share (a smaller training set)
    load_sentiment_ood()      -> Dataset      200 real movie-review sentences, out-of-domain test only
    sentiment_summary(dd)     -> DataFrame    counts per domain × split × label
    load_ner(profile)         -> DatasetDict  train / validation / test, one row per sentence
    read_conll(path)          -> list         the sentences of any CoNLL-style file (bring your own data)
    ner_summary(dd)           -> DataFrame    sentences, tokens and entity mentions per type × split
    entity_spans(tags)        -> list         (type, start, end) of each entity in one sentence's BIO tags
    check_bio_tags(tags)      -> None         ValueError naming the first tag that is not BIO (O, B-X, I-X)
    load_lm_corpus(name)      -> DatasetDict  train / heldout, one row per entry (title, text), both profiles
    load_instructions(profile)-> DatasetDict  train / validation / test chat conversations (chapter 06), both profiles
    load_qa(profile)          -> DatasetDict  train / validation / test in SQuAD v1.1's schema (chapter 07)
    load_qa_unanswerable()    -> DatasetDict  SQuAD-2-style questions the passage does not answer, by split
    load_preferences(profile) -> DatasetDict  train / validation / test preference pairs (chapter 08), TRL's format
    rule_prefers(pair, answer) -> bool        does the pair's rule prefer this answer to the rejected one (chapter 08)

Every DatasetDict above is a CourseDatasetDict (sftlab/data/splits.py): asked for a split it lacks
(`load_sentiment()["valid"]`) it names the splits it has, and map/filter/cast keep that.

Sentiment schema, every loader (one row per sentence):

    text    string                               the sentence
    label   ClassLabel(names=["neg", "pos"])     0 = neg, 1 = pos
    domain  string                               where it comes from: "films", "apps", …

Offline, the sentences come from data/sentiment/<domain>.jsonl, written for this course
(data/README.md); each line is {"text": ..., "label": "pos"|"neg", "split": "train"|"validation"|"test"}.
Full, they come from GLUE SST-2 on the hub, mapped to the same schema.

NER schema, every loader (one row per sentence):

    tokens    Sequence(string)                     the words, tokenised as CoNLL does
    ner_tags  Sequence(ClassLabel(NER_LABELS))     one BIO tag per word: 0 = O, 1 = B-PER, …

Offline, the sentences come from data/ner/<split>.conll, written for this course (data/README.md).
Full, they come from CoNLL-2003 on the hub, with its POS and chunk columns dropped.

LM corpus (one row per entry): title (the heading line) and text (the whole entry, heading first),
from data/lm/<name>/{train,heldout}.jsonl, written for this course; the same in both profiles.

Instructions (chapter 06) and QA (chapter 07): see the schemas in load_instructions and load_qa, and
data/README.md for how each set was written.
"""

from sftlab.data.common import (  # noqa: F401
    SPLITS,
    check_texts,
    stratified_subset,
)
from sftlab.data.instructions import (  # noqa: F401
    INSTRUCTION_FAMILIES,
    INSTRUCTION_LANGUAGES,
    INSTRUCTION_RECORD_KEYS,
    INSTRUCTION_ROLES,
    INSTRUCTIONS_DIR,
    first_per_group,
    instruction_features,
    load_instructions,
    read_instructions_jsonl,
    source_text,
)
from sftlab.data.lm import (  # noqa: F401
    LM_CORPORA,
    LM_DIR,
    LM_RECORD_KEYS,
    LM_SPLITS,
    lm_features,
    load_lm_corpus,
    read_lm_jsonl,
)
from sftlab.data.ner import (  # noqa: F401
    CONLL2003_REPO,
    CONLL2003_REVISION,
    NER_DIR,
    NER_LABELS,
    NER_TYPES,
    bio_problem,
    check_bio_tags,
    entity_spans,
    load_ner,
    ner_features,
    ner_summary,
    read_conll,
)
from sftlab.data.preferences import (  # noqa: F401
    PREFERENCE_FAMILIES,
    PREFERENCE_LANGUAGES,
    PREFERENCE_RECORD_KEYS,
    PREFERENCE_RULES,
    PREFERENCES_DIR,
    REFUSAL_PATTERNS,
    ULTRAFEEDBACK_REPO,
    ULTRAFEEDBACK_REVISION,
    ULTRAFEEDBACK_SEED,
    ULTRAFEEDBACK_VALIDATION_FRACTION,
    cjk_share,
    entities_problem,
    is_refusal,
    load_preferences,
    preference_features,
    read_preferences_jsonl,
    rule_prefers,
)
from sftlab.data.qa import (  # noqa: F401
    QA_DIR,
    QA_RECORD_KEYS,
    SQUAD_REPO,
    SQUAD_SEED,
    SQUAD_VALIDATION_FRACTION,
    load_qa,
    load_qa_unanswerable,
    qa_features,
    read_qa_jsonl,
)
from sftlab.data.sentiment import (  # noqa: F401
    GLUE_REPO,
    OOD_DOMAIN,
    OOD_ENCODING,
    OOD_FILE,
    RECORD_KEYS,
    SENTIMENT_DIR,
    SENTIMENT_LABELS,
    SST2_DOMAIN,
    SST2_SEED,
    SST2_VALIDATION_FRACTION,
    _load_sentiment_folder,
    load_sentiment,
    load_sentiment_ood,
    sentiment_features,
    sentiment_summary,
)
