"""Stand-in of index-tts's downloader: records what the adapter asks for and writes
placeholder files where index-tts would put the real ones (nothing is fetched)."""
import os

CALLS: list[tuple] = []


def snapshot_download(repo_id, local_dir, revision=None, force_download=False, **kwargs):
    CALLS.append(("snapshot_download", repo_id, local_dir))
    return local_dir


def ensure_models_available(model_dir, bigvgan_repo="nvidia/bigvgan_v2_22khz_80band_256x"):
    CALLS.append(("ensure_models_available", model_dir))
    cache = os.path.join(model_dir, "hf_cache")
    return {"w2v_bert": os.path.join(cache, "w2v-bert-2.0"),
            "semantic_codec": os.path.join(cache, "semantic_codec_model.safetensors"),
            "campplus": os.path.join(cache, "campplus_cn_common.bin"),
            "bigvgan": os.path.join(cache, "bigvgan")}
