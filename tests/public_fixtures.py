"""Tiny copies of public datasets in their published layouts (a few rows each, written by the tests), for the
`wavlink prepare` converters and the blog-recipe dry runs. Each builder returns the source folder and leaves
exactly one clip of its metadata without audio (the converters must count and list it)."""

from __future__ import annotations

import json
from pathlib import Path

import soundfile as sf
from helpers import make_clip

_SEED = [0]


def wav(path: Path, seconds: float = 1.0, sr: int = 16000) -> Path:
    """A short deterministic clip at `path` (WAV, or FLAC by suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _SEED[0] += 1
    sf.write(path, make_clip(seconds, seed=_SEED[0], sr=sr), sr)
    return path


ONTOLOGY = [
    {"id": "/m/04rlf", "name": "Music", "child_ids": ["/m/04szw"]},
    {"id": "/m/04szw", "name": "Musical instrument", "child_ids": ["/m/0fx80y"]},
    {"id": "/m/0fx80y", "name": "Plucked string instrument", "child_ids": ["/m/0342h"]},
    {"id": "/m/0342h", "name": "Guitar", "child_ids": ["/m/02sgy", "/m/018vs"]},
    {"id": "/m/02sgy", "name": "Electric guitar", "child_ids": []},
    {"id": "/m/018vs", "name": "Bass guitar", "child_ids": []},
    {"id": "/m/07plct2", "name": "Crushing", "child_ids": []},
    {"id": "/m/09x0r", "name": "Speech", "child_ids": []},
    {"id": "/m/0bt9lr", "name": "Dog", "child_ids": []},
    {"id": "/m/0912c9", "name": "Vehicle horn, car horn, honking", "child_ids": []},
]


def ontology(root: Path) -> Path:
    path = root / "ontology.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([{**o, "description": "", "citation_uri": "", "positive_examples": [],
                                 "restrictions": []} for o in ONTOLOGY]))
    return path


def fsd50k(root: Path) -> Path:
    src = root / "FSD50K"
    gt = src / "FSD50K.ground_truth"
    gt.mkdir(parents=True)
    guitar = ('"Electric_guitar,Guitar,Plucked_string_instrument,Musical_instrument,Music",'
              '"/m/02sgy,/m/0342h,/m/0fx80y,/m/04szw,/m/04rlf"')
    (gt / "dev.csv").write_text(
        "fname,labels,mids,split\n"
        f"64760,{guitar},train\n"
        "21914,Crushing,/m/07plct2,val\n"
        f"64761,{guitar},train\n"
        "16399,Crushing,/m/07plct2,train\n")  # 16399: no audio
    (gt / "eval.csv").write_text(
        "fname,labels,mids\n"
        '100,"Bass_guitar,Guitar,Plucked_string_instrument,Musical_instrument,Music",'
        '"/m/018vs,/m/0342h,/m/0fx80y,/m/04szw,/m/04rlf"\n')
    (gt / "vocabulary.csv").write_text(
        "0,Bass_guitar,/m/018vs\n1,Crushing,/m/07plct2\n2,Electric_guitar,/m/02sgy\n3,Guitar,/m/0342h\n"
        "4,Music,/m/04rlf\n5,Musical_instrument,/m/04szw\n6,Plucked_string_instrument,/m/0fx80y\n")
    for name in ("64760", "21914", "64761"):
        wav(src / "FSD50K.dev_audio" / f"{name}.wav")
    wav(src / "FSD50K.eval_audio" / "100.wav")
    meta = src / "FSD50K.metadata"
    meta.mkdir()
    (meta / "dev_clips_info_FSD50K.json").write_text(json.dumps({
        "64760": {"title": "guitarras_63.wav", "description": "electric guitar", "tags": ["electric", "guitar"],
                  "license": "http://creativecommons.org/licenses/sampling+/1.0/", "uploader": "casualsamples"}}))
    return src


def macs(root: Path) -> Path:
    src = root / "MACS"
    src.mkdir(parents=True)
    (src / "MACS.yaml").write_text(
        "files:\n"
        "- filename: airport-barcelona-0-0-a.wav\n"
        "  annotations:\n"
        "  - annotator_id: 24\n"
        "    sentence: people talk in a large hall while a suitcase rolls by\n"
        "    tags:\n"
        "    - adults talking\n"
        "    - footsteps\n"
        "  - annotator_id: 25\n"
        "    sentence: an announcement echoes over footsteps\n"
        "    tags:\n"
        "    - announcement\n"
        "- filename: park-helsinki-241-7236-a.wav\n"
        "  annotations:\n"
        "  - annotator_id: 24\n"
        "    sentence: birds sing and children shout in a park\n"
        "    tags:\n"
        "    - birds singing\n"
        "  - annotator_id: 26\n"
        "    sentence: ''\n"
        "    tags: []\n"
        "- filename: public_square-lyon-1-28-a.wav\n"
        "  annotations:\n"
        "  - annotator_id: 25\n"
        "    sentence: a crowd chatters on a square\n"
        "    tags:\n"
        "    - adults talking\n")  # public_square: no audio
    (src / "MACS_competence.csv").write_text("annotator_id\tcompetence\n24\t0.91\n25\t0.73\n26\t0.40\n")
    tau = src / "TAU-urban-acoustic-scenes-2019-development" / "audio"
    wav(tau / "airport-barcelona-0-0-a.wav")
    wav(tau / "park-helsinki-241-7236-a.wav")
    return src


def audioset_strong(root: Path) -> Path:
    src = root / "audioset_strong"
    src.mkdir(parents=True)
    header = "segment_id\tstart_time_seconds\tend_time_seconds\tlabel\n"
    (src / "audioset_train_strong.tsv").write_text(
        header
        + "b0RFKhbpFJA_30000\t0.000\t4.000\t/m/09x0r\n"
        + "b0RFKhbpFJA_30000\t1.000\t2.500\t/m/0bt9lr\n"
        + "b0RFKhbpFJA_30000\t6.000\t7.000\t/m/0912c9\n"
        + "b0RFKhbpFJA_30000\t8.000\t9.000\t/m/09x0r\n"
        + "-5xOcMJpTUk_0\t0.500\t9.500\t/m/0bt9lr\n"
        + "zzzzzzzzzzz_10000\t0.000\t10.000\t/m/09x0r\n")  # zzz...: no audio
    (src / "audioset_eval_strong.tsv").write_text(header + "c1fGP_k2Xyk_20000\t2.000\t3.000\t/m/0912c9\n")
    # the download page's display names (one differs from the ontology, which must win)
    (src / "mid_to_display_name.tsv").write_text(
        "/m/09x0r\tSpeech\n/m/0bt9lr\tDog\n/m/0912c9\tVehicle horn (old name)\n")
    ontology(src)
    wav(src / "audio" / "train" / "Yb0RFKhbpFJA.wav")  # AudioSet download naming: Y<youtube_id>
    wav(src / "audio" / "train" / "-5xOcMJpTUk_0.flac")  # segment_id naming
    wav(src / "audio" / "eval" / "c1fGP_k2Xyk_20.000.wav")  # <youtube_id>_<start s>
    return src


def urbansound8k(root: Path) -> Path:
    src = root / "UrbanSound8K"
    (src / "metadata").mkdir(parents=True)
    (src / "metadata" / "UrbanSound8K.csv").write_text(
        "slice_file_name,fsID,start,end,salience,fold,classID,class\n"
        "100032-3-0-0.wav,100032,0.0,0.317551,1,5,3,dog_bark\n"
        "100263-2-0-117.wav,100263,58.5,62.5,1,5,2,children_playing\n"
        "102305-6-0-0.wav,102305,0.0,2.6,2,1,6,gun_shot\n")  # 102305: no audio
    wav(src / "audio" / "fold5" / "100032-3-0-0.wav", 0.4)
    wav(src / "audio" / "fold5" / "100263-2-0-117.wav")
    return src


def clotho(root: Path) -> Path:
    src = root / "clotho_v2.1"
    src.mkdir(parents=True)
    captions = "file_name,caption_1,caption_2,caption_3,caption_4,caption_5\n"
    (src / "clotho_captions_development.csv").write_text(
        captions
        + "Distorted AM Radio noise.wav,A radio hisses.,Static crackles.,Noise from a radio.,A radio is tuned.,"
          "Crackling static rises.\n"
        + "forest.wav,Birds chirp in a forest.,Leaves rustle as birds sing.,Wind and birds.,Birds call.,\n"
        + "gone.wav,Rain falls.,Rain on a roof.,Water drips.,Rain.,A storm.\n")  # gone.wav: no audio
    (src / "clotho_captions_validation.csv").write_text(
        captions + "bells.wav,Church bells ring.,Bells toll.,A bell rings out.,Bells in a tower.,Bells chime.\n")
    (src / "clotho_captions_evaluation.csv").write_text(
        captions + "river.wav,A river flows.,Water runs.,A stream.,Water flowing.,A creek babbles.\n")
    # the metadata file is not UTF-8 in the release: cp1252 with a non-ASCII manufacturer name
    (src / "clotho_metadata_development.csv").write_bytes(
        ("file_name,keywords,sound_id,sound_link,start_end_samples,manufacturer,license\n"
         "Distorted AM Radio noise.wav,radio;noise,34086,https://freesound.org/people/x/sounds/34086,"
         "[0 1],Jos\u00e9,http://creativecommons.org/publicdomain/zero/1.0/\n").encode("cp1252"))
    wav(src / "development" / "Distorted AM Radio noise.wav")
    wav(src / "development" / "forest.wav")
    wav(src / "validation" / "bells.wav")
    wav(src / "evaluation" / "river.wav")
    return src


def audiocaps(root: Path) -> Path:
    src = root / "audiocaps"
    src.mkdir(parents=True)
    head = "audiocap_id,youtube_id,start_time,caption\n"
    (src / "train.csv").write_text(head + "91139,r1nicOVtvkQ,130,A woman talks nearby as water pours\n"
                                          "58146,UDGBjjwyaqE,20,Multiple clanging and clanking sounds\n"
                                          "11111,gone1234567,0,A dog barks\n")  # gone1234567: no audio
    (src / "val.csv").write_text(head + '97151,vfY_TJq7n_U,130,"Rustling occurs, ducks quack"\n'
                                        "107893,vfY_TJq7n_U,130,Ducks quack and water splashes\n")
    (src / "test.csv").write_text(head + "103549,--0w1YA1Hm4,30,A vehicle engine revving then accelerating\n")
    wav(src / "audio" / "train" / "r1nicOVtvkQ_130.wav")
    wav(src / "audio" / "train" / "YUDGBjjwyaqE.flac")
    wav(src / "audio" / "val" / "vfY_TJq7n_U_130.000.wav")
    wav(src / "audio" / "test" / "103549.wav")  # named by audiocap_id
    return src


def auto_acd(root: Path) -> Path:
    src = root / "auto_acd"
    src.mkdir(parents=True)
    (src / "train.csv").write_text(
        "youtube_id,caption\n"
        'oPRC3zComfA_000117,"A man speaks while water splashes, with birds in the background."\n'
        "---g-f_I2yQ_000001,An engine idles loudly in a garage.\n"
        "missingVid1_000010,A dog barks in a backyard.\n")  # missingVid1: no audio
    (src / "test.csv").write_text("youtube_id,caption\n_7Xe9vD3Hpg_000004,Music plays softly in a hall.\n")
    wav(src / "audio" / "train" / "oPRC3zComfA_000117.wav")
    wav(src / "audio" / "train" / "Y---g-f_I2yQ.wav")
    wav(src / "audio" / "test" / "_7Xe9vD3Hpg_4.wav")
    return src


def audiosetcaps(root: Path) -> Path:
    src = root / "AudioSetCaps"
    data = src / "Dataset"
    data.mkdir(parents=True)
    (data / "AudioSetCaps_caption.csv").write_text(
        "id,caption\nY---1_cCGK4M,\"A man speaks, then a door closes.\"\nYabcdefghijk,Rain falls on a tin roof.\n")
    (data / "VGGSound_AudioSetCaps_caption.csv").write_text("id,caption\nOxPnZzn1_L8_000883,A chainsaw cuts wood.\n")
    (data / "YouTube-8M_AudioSetCaps_caption.csv").write_text(
        "id,caption\n_7Xe9vD3Hpg_4_10,A cello and a bell play a solemn piece.\n")  # no audio
    (data / "AudioSetCaps_Qwen-Audio_Q&A.csv").write_text("id,question,answer\nY---1_cCGK4M,What?,Speech.\n")
    wav(src / "audio" / "AudioSet" / "Y---1_cCGK4M.wav")
    wav(src / "audio" / "AudioSet" / "abcdefghijk.wav")
    wav(src / "audio" / "VGGSound" / "OxPnZzn1_L8_000883.flac")
    return src


BUILDERS = {"fsd50k": fsd50k, "macs": macs, "audioset-strong": audioset_strong, "urbansound8k": urbansound8k,
            "clotho": clotho, "audiocaps": audiocaps, "auto-acd": auto_acd, "audiosetcaps": audiosetcaps}
