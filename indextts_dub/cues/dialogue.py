"""What in a subtitle file is dialogue, and who says it: decided per file, with evidence.

- **Speakers.** A ``Name:`` or ``[Name]`` prefix names a speaker when the file shows it is one:
  the same name opens two or more cues, or it is an SDH label in capitals (``WEASEL:``). A
  prefix seen once stays in the text and is offered to casting (:attr:`Cue.prefix`), which
  takes it when the cast names that character. Never a speaker: credits and notes
  (``Screenplay:``, ``Sync:``, ``翻译：``, ``注：``), sound descriptions (``[Groans] Oh.``),
  placeholder or numeric ASS Name fields (``NTP``, ``1``, ``2``).
- **Not dialogue** (listed in ``Cues.skipped`` with the reason): cues that hold only sound
  descriptions (``[SIGHS]``, ``(INDISTINCT SHOUTING\\nAND SCREAMING)``, ``[笑]``, ``（笑）``),
  only lyrics (lines opening with ♪) or only a music cue (``[Music]``, ``♪♪``).
- **Two voices in one cue.** Dash dialogue (``- Hi.\\n- Hello.``) and a speaker label opening a
  later line (``Cheers.\\nWEASEL: Fuck you.``) split the cue into lines that share its slot, each
  part as long as its share of the text.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import replace

from ..text.speech import speakable, speech_text
from .cue import Cue, Skipped, split_speaker

# Prefixes that name a job, a credit or a note, never a character (casefolded; "Synced by" and
# the like are caught by _CREDIT_PHRASE).
CREDITS = frozenset("""
screenplay script writer writers story director producer editor music composer subtitle subtitles subs
caption captions captioning sync resync timing timer translation translations translator transcript
transcription encode encoder rip source typesetting typeset ts qc proofreading proofreader karaoke kfx tl tlc
release note notes n.b. nb ps p.s. prevod preklad překlad titulky napisy sottotitoli traduzione traduction
sous-titres untertitel übersetzung subtítulos traducción legendas tradução
翻译 翻譯 校对 校對 时间轴 時間軸 时轴 時軸 字幕 压制 壓制 注 注释 注釋 备注 備注 特效 后期 後期 片源 监制 監製
策划 策劃 制作 製作 总监 總監 听译 聽譯 调校 調校 原创 原創 出品 翻校 润色 潤色 审校 審校 美工 分流
""".split())
_CREDIT_PHRASE = re.compile(r"\b(?:written|directed|produced|edited|subtitled|captioned|synced|synchronized|"
                            r"synchronised|timed|translated|transcribed|encoded|ripped|downloaded|brought to you)"
                            r"(?:\s+\w+)?\s*$|^(?:www\.|https?)", re.I)

# Words of sound descriptions in SDH subtitles ([Groans], [SIGHS], [笑], (door slams)).
_SOUND = re.compile(
    r"laugh|chuckl|giggl|sigh|groan|gasp|scream|shout|yell|cry|cries|crying|sob|cough|grunt|moan|whimper|"
    r"whisper|mutter|murmur|mumbl|sniff|snor|pant|breath|exhal|inhal|kiss|grumbl|scoff|stammer|stutter|hum|"
    r"humm|whistl|sing|music|song|applause|cheer|clap|thud|bang|knock|ring|beep|buzz|door|phone|footstep|"
    r"indistinct|inaudible|chatter|silence|sound|noise|explosion|gunshot|thunder|wind|rain|crowd|siren|engine|"
    r"horn|bark|growl|roar|hiss|click|slam|crash|static|speaking|continues|playing|chanting|sneez|hiccup|gulp|"
    r"clear.*throat|sniffl|wail|howl|grr|tv|radio|in \w+$|"
    r"笑|哭|叹|嘆|咳|音乐|音樂|掌声|掌聲|尖叫|喘|哼|呻吟|欢呼|歡呼|敲门|敲門|电话|電話|铃|鈴|枪声|槍聲|爆炸|"
    r"脚步|腳步|低语|低語|悄悄话|悄悄話|叹气|嘆氣|抽泣|喊|歌|嘘|噓|咳嗽", re.I)
_MUSIC = re.compile(r"^\W*(?:music|musique|música|musica|musik|音乐|音樂|♪|♫)", re.I)
_PLACEHOLDER_NAMES = frozenset({"ntp", "default", "none", "n/a", "na", "-", "*", "?", "unknown", "comment",
                                "sign", "signs", "text", "title", "op", "ed"})

_ANNOT = re.compile(r"\[[^\]]*\]|【[^】]*】|（[^）]*）|\([^)]*\)|♪[^♪]*♪")
_LYRIC_LINE = re.compile(r"^\s*[-–—]?\s*[♪♫#]")
_DASH = re.compile(r"^\s*[-–—－]\s*(?=\S)")


def _fold(name: str) -> str:
    return " ".join(name.casefold().split())


def is_credit(name: str) -> bool:
    """``Screenplay``, ``Synced by``, ``翻译``, ``注`` ...: a job or a note, not a character."""
    folded = _fold(name)
    return folded in CREDITS or bool(_CREDIT_PHRASE.search(folded))


def is_sound(words: str) -> bool:
    """``Groans``, ``SIGHS``, ``door slams``, ``笑``: the words of a sound description."""
    return bool(_SOUND.search(words))


def is_placeholder(name: str) -> bool:
    """An ASS Name field that names nobody: numbers, ``NTP``, ``Default`` ..."""
    folded = _fold(name)
    return not folded or folded in _PLACEHOLDER_NAMES or not any(unicodedata.category(c)[0] == "L" for c in folded)


def _caps_label(name: str) -> bool:
    """``WEASEL``, ``MR. SMITH``: an SDH speaker label (Latin capitals, at most three words)."""
    letters = [c for c in name if c.isalpha()]
    return (len(letters) >= 2 and all("A" <= c <= "Z" or c in "ÀÂÄÇÉÈÊËÎÏÔÖÙÛÜŸÑ" for c in letters)
            and len(name.split()) <= 3)


def candidate(text: str, tagged: bool = False) -> tuple[str, str, str] | None:
    """The speaker a cue's text opens with, if it could be one: ``(name, how, rest)``. A bare
    ``Name:`` is a speaker only when the cue carried inline tags (``Alice: {emotion=happy}``:
    casting then says the line has no words)."""
    who, how, rest = split_speaker(text)
    if not who or is_credit(who):
        return None
    if how == "bracket" and (is_sound(who) or who.isupper() or who[:1].islower()):
        return None                               # [Groans] Oh. / [SIGHS] / [laughing]
    if how == "prefix" and not rest.strip() and not tagged:
        return None
    return who, how, rest


def tags_only(cue: Cue) -> bool:
    """A speaker and inline tags but no words (``Alice: {emotion=happy}``): a line the writer
    meant, not a cue to skip; casting says what is missing."""
    return bool(cue.speaker and cue.tags and not cue.text.strip())


def skip_reason(text: str) -> str | None:
    """Why a cue's text is not dialogue, or None when it has something to say."""
    if speakable(speech_text(text, "zh" if re.search(r"[\u4e00-\u9fff]", text) else "en")):
        return None
    if not text.strip():
        return "no text"
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if all(_LYRIC_LINE.match(ln) for ln in lines) and any(speakable(ln) for ln in lines):
        return "lyrics (♪)"
    if _MUSIC.match(text) or all(not speakable(ln) and ("♪" in ln or "♫" in ln) for ln in lines):
        return "music cue"
    inner = " ".join(m.group(0) for m in _ANNOT.finditer(text))
    if inner:
        return "music cue" if _MUSIC.match(inner.strip("[]()（）【】 ")) else "sound description"
    return "no speakable text"


# ---------------------------------------------------------------- the file-level pass

def decide(cues: list[Cue], speak: str | None = None, name: str = "", captions: bool = True
           ) -> tuple[list[Cue], list[Skipped], list[str], str | None]:
    """Speakers, skips and split cues of one file's cues (see the module's description):
    ``(spoken cues, skipped, warnings, the language chosen of a bilingual file)``. ``captions``:
    the cues are a caption file's, whose repeats are rolling captions (a timeline's markers and
    clips are placed one by one by an editor: a repeat there is meant)."""
    skipped: list[Skipped] = []
    warnings: list[str] = []
    # 1. Name fields that name nobody are dropped; the text may still carry a prefix.
    cues = [replace(c, speaker=None, speaker_from=None) if c.speaker_from == "name-field" and
            is_placeholder(c.speaker or "") else c for c in cues]
    if captions:
        cues, dropped = rolling(cues)
        skipped += dropped
    cues, dropped, chosen, note = bilingual(cues, speak, name)
    skipped += dropped
    if note:
        warnings.append(note)
    kept = []
    for c in cues:
        who = split_speaker(c.text)[0]
        if c.speaker is None and who and is_credit(who):
            skipped.append(Skipped(c, "credit or note"))
        else:
            kept.append(c)
    cues = kept
    # 2. Prefix candidates, and how often each name opens a cue (any form, any later line).
    cands: dict[int, tuple[str, str, str]] = {}
    counts: Counter[str] = Counter()
    for i, c in enumerate(cues):
        for k, ln in enumerate(_lines_with_labels(c.text)):
            cand = candidate(ln, tagged=k == 0 and bool(c.tags))
            if cand:
                counts[_fold(cand[0])] += 1
                if k == 0:
                    cands[i] = cand
            elif (dash := _DASH.match(ln)) and (cand := candidate(ln[dash.end():])):
                counts[_fold(cand[0])] += 1         # "- Alice: ..." in dash dialogue
    accepted = {name for name, n in counts.items() if n >= 2}
    # a name the file itself gives as a speaker (a <v> voice, an ASS Name field) is one anywhere
    accepted |= {_fold(c.speaker) for c in cues if c.speaker and c.speaker_from in ("voice-tag", "name-field")}

    def accept(name: str) -> bool:
        return _fold(name) in accepted or _caps_label(name)

    out: list[Cue] = []
    for i, c in enumerate(cues):
        cand = cands.get(i) if c.speaker is None else None
        if cand and accept(cand[0]):
            c = replace(c, speaker=cand[0], speaker_from=cand[1], text=cand[2])
        elif cand:
            c = replace(c, prefix=cand[0])
        reason = None if tags_only(c) else skip_reason(c.text)
        if reason:
            skipped.append(Skipped(c, reason))
            continue
        out.extend(_split(c, accept))
    return out, skipped, warnings, chosen


# ---------------------------------------------------------------- rolling captions

def rolling(cues: list[Cue]) -> tuple[list[Cue], list[Skipped]]:
    """YouTube's rolling captions: each cue shows the previous cue's last line again above the
    line being written (and a 10 ms cue between shows it alone). When most cues open with the
    previous cue's last line, the repeated lines are said once: where they first appear."""
    def lines(c: Cue) -> list[str]:
        return [ln.strip() for ln in c.text.split("\n") if ln.strip()]

    repeats = sum(1 for a, b in zip(cues, cues[1:]) if lines(a) and lines(b) and lines(b)[0] == lines(a)[-1])
    if repeats < 3 or repeats * 3 < len(cues):
        return cues, []
    out: list[Cue] = []
    skipped: list[Skipped] = []
    shown: list[str] = []
    for c in cues:
        now = lines(c)
        new = list(now)
        while new and new[0] in shown:
            new.pop(0)
        shown = now
        if not new:
            skipped.append(Skipped(c, "repeats the previous cue (rolling captions)"))
        elif new != now:
            out.append(replace(c, text="\n".join(new)))
        else:
            out.append(c)
    return out, skipped


# ---------------------------------------------------------------- bilingual files

_HAN_CHARS = re.compile("[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_CHARS = re.compile("[A-Za-z]")


def _language(text: str) -> str | None:
    han = len(_HAN_CHARS.findall(text))
    latin = len(_LATIN_CHARS.findall(text))
    if han and han * 2 >= latin:
        return "zh"
    if latin >= 2 and not han:
        return "en"
    return None


LANGUAGE_NAMES = {"zh": "Chinese", "en": "English"}


def bilingual(cues: list[Cue], speak: str | None, name: str = ""):
    """Files that give every cue in Chinese and in English, as two lines of one cue (either on
    top) or as two events at the same times (ASS styles or Name fields). Detected when at least
    three cues, and a third of them, are such pairs. The language spoken is ``speak``, else the
    primary one: the language of the top line (of the event listed first); the other is skipped.
    ``(cues, skipped, chosen language or None, the note for the summary or None)``."""
    # two lines of one cue
    top: Counter[str] = Counter()
    for c in cues:
        langs = [_language(ln) for ln in c.text.split("\n") if ln.strip()]
        langs = [x for x in langs if x]
        if len(set(langs)) == 2 and _blocks(langs) == 2:
            top[langs[0]] += 1
    pairs_in_events: Counter[str] = Counter()
    by_time: dict[tuple[int, int], list[int]] = {}
    for i, c in enumerate(cues):
        by_time.setdefault((c.start, c.end), []).append(i)
    for group in by_time.values():
        langs = [_language(cues[i].text) for i in group]
        if len(group) >= 2 and "zh" in langs and "en" in langs:
            pairs_in_events[langs[0] if langs[0] in ("zh", "en") else langs[1]] += 1
    n_lines, n_events = sum(top.values()), sum(pairs_in_events.values())
    layout = "lines" if n_lines >= max(3, len(cues) / 3) else "events" if n_events >= 3 and n_events * 2 >= len(cues) / 3 else None
    if layout is None:
        if speak:
            return cues, [], speak, (f"{name}: --speak {speak}: this file is not bilingual (no Chinese/English "
                                     "pairs found); every cue is spoken")
        return cues, [], None, None
    counts = top if layout == "lines" else pairs_in_events
    primary = counts.most_common(1)[0][0]
    chosen = speak or primary
    other = "en" if chosen == "zh" else "zh"
    out: list[Cue] = []
    skipped: list[Skipped] = []
    for c in cues:
        if layout == "lines":
            kept, label = [], None
            for ln in (x for x in c.text.split("\n") if x.strip()):
                lang = _language(ln)
                if lang == other:
                    cand = candidate(ln)
                    label = label or (cand[0] if cand and cand[1] == "prefix" else None)
                else:
                    kept.append(ln)
            if not kept:
                skipped.append(Skipped(c, f"the other language ({other})"))
                continue
            if label and c.speaker is None and not candidate(kept[0]) and not _DASH.match(kept[0]):
                kept[0] = f"{label}: {kept[0]}"       # the label only on the other language's line
            out.append(replace(c, text="\n".join(kept)))
        elif _language(c.text) == other:
            skipped.append(Skipped(c, f"the other language ({other})"))
        else:
            out.append(c)
    how = ("each cue holds a Chinese line and its English translation" if layout == "lines"
           else "Chinese and English are separate events at the same times")
    evidence = f"{n_lines if layout == 'lines' else n_events} of {len(cues)} cues"
    why = "as --speak asks" if speak else ("the language of the top line" if layout == "lines"
                                           else "the language of the event listed first")
    note = (f"{name}: bilingual subtitles ({how}: {evidence}): speaking {LANGUAGE_NAMES[chosen]} ({chosen}), {why}; "
            f"the {LANGUAGE_NAMES[other]} lines are skipped" + ("" if speak else f" (--speak {other} speaks them instead)"))
    return out, skipped, chosen, note


def _blocks(langs: list[str]) -> int:
    """How many runs of one language the lines make (2: one block of each)."""
    return 1 + sum(1 for a, b in zip(langs, langs[1:]) if a != b)


def _lines_with_labels(text: str) -> list[str]:
    """The cue's text from each line on: candidates for a label opening that line."""
    lines = text.split("\n")
    return ["\n".join(lines[k:]) for k in range(len(lines))]


def _split(cue: Cue, accept) -> list[Cue]:
    """Dash dialogue and later-line labels: one cue per voice, sharing the cue's slot."""
    lines = [ln for ln in cue.text.split("\n") if ln.strip()]
    if len(lines) < 2:
        return [cue]
    dashed = sum(1 for ln in lines if _DASH.match(ln)) >= 2
    parts: list[list] = []                 # [speaker, how, lines]
    for k, ln in enumerate(lines):
        body, new = ln, False
        dash = _DASH.match(ln) if dashed else None
        if dash:
            body, new = ln[dash.end():], True
        who, how, rest = split_speaker(body)
        if who and (k > 0 or new) and rest.strip() and accept(who) and not is_credit(who):
            body, new = rest, True
        else:
            who = how = None
        if not parts or new:
            parts.append([who, how, [body]])
        else:
            parts[-1][2].append(body)
    if len(parts) < 2:
        return [cue]
    if parts[0][0] is None:
        parts[0][:2] = [cue.speaker, cue.speaker_from]
    weights = [max(1, len(speech_text("\n".join(p[2]), "en"))) for p in parts]
    total = sum(weights)
    out = []
    at = cue.start
    for k, (who, how, body) in enumerate(parts):
        end = cue.end if k == len(parts) - 1 else cue.start + (cue.end - cue.start) * sum(weights[:k + 1]) // total
        out.append(replace(cue, id=f"{cue.id}.{k + 1}", start=at, end=end, text="\n".join(body),
                           speaker=who, speaker_from=how, prefix=None, turn=k + 1))
        at = end
    return out
