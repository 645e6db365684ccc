"""The micro-expression clip databases, one :class:`~fer_lib.data.clips.ClipDatabase` entry each, registered with
one loader (:func:`fer_lib.data.clips.load_clip_dataset`). A new clip database is a new entry in
:data:`CLIP_DATABASES` and a section here.

Every database has the split ``all`` (subject-wise splits are :mod:`fer_lib.data.splits`) and takes the loader's
``frames``, ``color``, ``classes`` (``"megc3"`` or ``"emotion"``) and ``missing`` arguments.

CASME II
--------
Yan et al., "CASME II: An Improved Spontaneous Micro-Expression Database and the Baseline Evaluation", PLoS ONE
2014: 255 micro-expression clips of 26 subjects, 200 fps, 640×480 colour frames.

Layout accepted (the CASME II download), in ``<root>/casme2/`` (or ``CASME2``, ``CASME II``) or the root itself:

* ``CASME2-coding-20140508.xlsx`` — the coding table: Subject (``1`` or ``01``), Filename, OnsetFrame,
  ApexFrame (``/`` where unknown), OffsetFrame, Action Units, Estimated Emotion. It may also sit in
  ``CASME2_RAW_selected/`` or in a ``me_labels/`` folder inside or beside the dataset folder.
* ``CASME2_RAW_selected/sub<NN>/<Filename>/img<frame>.jpg`` — the onset-to-offset frames of each clip.

Clips are named as MEGC2019 names them: subject ``sub01``, sample id ``sub01/EP02_01f``. Emotions (the
``emotion`` classes): happiness, disgust, repression, surprise, fear, sadness, others. The MEGC2019 3-class task
(``classes="megc3"``) maps happiness to positive, disgust and repression to negative and surprise to surprise;
others, fear and sadness are left out, as are clips whose apex is unknown or equals the onset (see
:func:`fer_lib.data.clips.load_clip_dataset`).

SAMM
----
Davison et al., "SAMM: A Spontaneous Micro-Facial Movement Dataset", IEEE Trans. Affective Computing 2018: 159
micro-expression clips of 29 subjects, 200 fps, 960×650 grey frames.

Layout accepted (the SAMM download), in ``<root>/SAMM/`` (or ``samm``) or the root itself:

* ``SAMM/<subject>/<Filename>/<subject>_<frame>.jpg`` — subject three digits (``006``), frame numbers of 4 or 5
  digits (``006_05562.jpg``); clip ``Filename`` as in the table (``006_1_2``).
* the coding table ``SAMM_Micro_FACS_Codes_v2.xlsx`` (the release; its header row comes after title rows) or
  ``SAMM.xlsx`` (its MICRO_ONLY sheet, header in the first row): Subject, Filename, Onset Frame, Apex Frame,
  Offset Frame, Action Units, Estimated Emotion. It may sit beside ``SAMM/``, inside it, or in a ``me_labels/``
  folder inside or beside the dataset folder — our data root ships it as ``me_labels/SAMM.xlsx``.

Subjects are the zero-padded ids MEGC2019 uses (``006``); sample ids ``006/006_1_2``. Emotions (the ``emotion``
classes): anger, contempt, disgust, fear, happiness, sadness, surprise, other. The MEGC2019 3-class task
(``classes="megc3"``) maps anger, contempt, disgust, fear and sadness to negative, happiness to positive and
surprise to surprise; other is left out.

SMIC-HS
-------
Li et al., "A Spontaneous Micro-expression Database: Inducement, Collection and Baseline", FG 2013: the 164
micro-expression clips of the 100 fps high-speed camera, 16 subjects, 640×480 colour frames, three classes
(negative, positive, surprise).

Layout accepted (the SMIC download), in ``<root>/smic/`` (or ``SMIC``) or the root itself:

* ``SMIC_all_raw/HS/s<k>/micro/<negative|positive|surprise>/s<k>_<ne|po|sur>_<nn>/image<frame>.bmp`` — the
  class is in the path and in the clip code; frames run from onset to offset.
* ``smic_apex.xlsx`` — the apex annotation table used with MEGC2019 (SMIC itself annotates no apex): columns
  subject (``1``), clip (``s1_ne_02``), label (0 negative, 1 positive, 2 surprise), onset_frame, apex_frame,
  offset_frame (empty for a few clips: then the folder's last frame). It may sit beside ``SMIC_all_raw/`` or in
  a ``me_labels/`` folder inside or beside the dataset folder — our data root ships it as ``me_labels/``.

Subjects are named as the MEGC2019 composite names them (``s01``); sample ids keep the clip folder name
(``s01/s1_ne_02``; the composite writes that clip ``s01_ne_02``). A clip's subject, class code and label must
agree (``s3_po_01``: subject 3, positive, label 1). ``emotion`` and ``megc3`` classes coincide.
"""

from __future__ import annotations

import re
from functools import partial

from .clips import ClipColumns, ClipDatabase, load_clip_dataset
from .labels import CASME2_EMOTIONS, SAMM_EMOTIONS, SMIC_CLASSES, SMIC_CODES
from .protocols import LeaveOneSubjectOut
from .registry import DatasetSpec, register_dataset

CASME2 = ClipDatabase(
    name="casme2",
    title="CASME II",
    source="http://casme.psych.ac.cn/casme/e2",
    emotions=CASME2_EMOTIONS,
    table_names=("CASME2-coding-20140508.xlsx",),
    columns=ClipColumns(
        subject="Subject", clip="Filename", onset="OnsetFrame", apex="ApexFrame", offset="OffsetFrame",
        emotion="Estimated Emotion", action_units="Action Units",
    ),
    frames_dir="CASME2_RAW_selected",
    subject_prefix="sub",
    subject_id="sub{number:02d}",
    clip_folder="{subject}/{clip}",
    frame_file=re.compile(r"img(?P<frame>\d+)\.jpe?g", re.IGNORECASE),
    frame_hint="img<frame>.jpg",
    folders=("casme2", "CASME2", "CASME II"),
    markers=("CASME2-coding-20140508.xlsx", "CASME2_RAW_selected"),
    layout="CASME2-coding-20140508.xlsx + CASME2_RAW_selected/sub<NN>/<Filename>/img<frame>.jpg",
)

SAMM = ClipDatabase(
    name="samm",
    title="SAMM",
    source="http://www2.docm.mmu.ac.uk/STAFF/m.yap/dataset.php",
    emotions=SAMM_EMOTIONS,
    table_names=("SAMM_Micro_FACS_Codes_v2.xlsx", "SAMM.xlsx"),
    columns=ClipColumns(
        subject="Subject", clip="Filename", onset="Onset Frame", apex="Apex Frame", offset="Offset Frame",
        emotion="Estimated Emotion", action_units="Action Units",
    ),
    frames_dir="SAMM",
    subject_prefix="",
    subject_id="{number:03d}",
    clip_folder="{subject}/{clip}",
    frame_file=re.compile(r"\d+_(?P<frame>\d+)\.jpe?g", re.IGNORECASE),
    frame_hint="<subject>_<frame>.jpg",
    folders=("SAMM", "samm"),
    # A frame folder alone is recognised by its first subject; the tables name the nested layout SAMM/SAMM/.
    markers=("SAMM_Micro_FACS_Codes_v2.xlsx", "SAMM.xlsx", "SAMM/006"),
    layout="SAMM/<subject>/<Filename>/<subject>_<frame>.jpg + SAMM_Micro_FACS_Codes_v2.xlsx (or SAMM.xlsx, also in ../me_labels/)",
)

SMIC = ClipDatabase(
    name="smic",
    title="SMIC-HS",
    source="https://www.oulu.fi/cmvs/node/41319",
    emotions=SMIC_CLASSES,
    table_names=("smic_apex.xlsx",),
    columns=ClipColumns(subject="subject", clip="clip", onset="onset_frame", apex="apex_frame", offset="offset_frame", label="label"),
    frames_dir="SMIC_all_raw/HS",
    subject_prefix="s",
    subject_id="s{number:02d}",
    clip_folder="s{number}/micro/{emotion}/{clip}",
    frame_file=re.compile(r"image(?P<frame>\d+)\.(bmp|jpe?g|png)", re.IGNORECASE),
    frame_hint="image<frame>.bmp",
    folders=("smic", "SMIC"),
    markers=("SMIC_all_raw/HS", "smic_apex.xlsx"),
    layout="SMIC_all_raw/HS/s<k>/micro/<class>/s<k>_<code>_<nn>/image<frame>.bmp + smic_apex.xlsx (also in ../me_labels/)",
    offset_optional=True,
    clip_pattern=re.compile(r"s(?P<subject>\d+)_(?P<code>ne|po|sur)_\d+", re.IGNORECASE),
    clip_hint="s<subject>_<ne|po|sur>_<nn>",
    emotion_codes=SMIC_CODES,
)

CLIP_DATABASES = (CASME2, SAMM, SMIC)

for database in CLIP_DATABASES:
    register_dataset(
        DatasetSpec(
            name=database.name,
            title=database.title,
            load=partial(load_clip_dataset, database),
            splits=("all",),
            folders=database.folders,
            markers=database.markers,
            layout=database.layout,
            source=database.source,
            protocol=LeaveOneSubjectOut(),  # the micro-expression protocol (MEGC2019, paper §4.2)
            modalities={},  # raw frame sequences: optical flow is computed from them (notebook 02); no model trains on them as loaded
        )
    )
