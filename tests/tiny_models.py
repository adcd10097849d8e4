"""Build tiny, randomly initialised models from configs, saved in the standard hub formats.

They let the tests run the real loading code paths (AutoPipelineForText2Image,
BLIP, the ASR pipeline) offline, in seconds.
"""

from __future__ import annotations

import json
import string
from pathlib import Path


def _char_vocab() -> list[str]:
    return list(string.ascii_lowercase + string.digits + ".,!?'")


def build_tiny_sd(folder: Path) -> Path:
    """A 32×32 StableDiffusionPipeline with a character-level CLIP tokenizer."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(0)
    chars = _char_vocab()
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in chars:
        vocab.setdefault(c, len(vocab))
        vocab.setdefault(c + "</w>", len(vocab))
    tok_dir = folder / "_tok"
    tok_dir.mkdir(parents=True, exist_ok=True)
    (tok_dir / "vocab.json").write_text(json.dumps(vocab))
    (tok_dir / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(tok_dir / "vocab.json"), str(tok_dir / "merges.txt"), model_max_length=32)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(vocab),
            hidden_size=32,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            max_position_embeddings=32,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        )
    )
    unet = UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(32, 64),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=8,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        block_out_channels=(16, 32, 32, 32),
        layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        norm_num_groups=8,
        sample_size=32,
    )
    scheduler = DDIMScheduler(
        beta_schedule="scaled_linear",
        beta_start=0.00085,
        beta_end=0.012,
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def build_tiny_blip(folder: Path) -> Path:
    """A 32×32 BLIP captioner with a word-level BERT tokenizer."""
    import torch
    from transformers import (
        BertTokenizerFast,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessor,
        BlipProcessor,
    )

    torch.manual_seed(0)
    words = "a the red blue green circle square triangle on background large small".split()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True)
    (folder / "vocab.txt").unlink()
    processor = BlipProcessor(BlipImageProcessor(size={"height": 32, "width": 32}), tokenizer)
    config = BlipConfig(
        text_config=dict(
            vocab_size=len(vocab),
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=40,
            bos_token_id=2,
            sep_token_id=3,
            pad_token_id=0,
            encoder_hidden_size=32,
        ),
        vision_config=dict(
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=32,
            patch_size=8,
        ),
        projection_dim=32,
    )
    model = BlipForConditionalGeneration(config)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def build_tiny_wav2vec2(folder: Path) -> Path:
    """A small CTC speech recogniser with a character vocabulary."""
    import torch
    from transformers import (
        Wav2Vec2Config,
        Wav2Vec2CTCTokenizer,
        Wav2Vec2FeatureExtractor,
        Wav2Vec2ForCTC,
        Wav2Vec2Processor,
    )

    torch.manual_seed(0)
    vocab = {"<pad>": 0, "<unk>": 1, "|": 2, **{c: i + 3 for i, c in enumerate(string.ascii_lowercase)}}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    tokenizer = Wav2Vec2CTCTokenizer(
        str(folder / "vocab.json"), pad_token="<pad>", unk_token="<unk>", word_delimiter_token="|"
    )
    extractor = Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True, return_attention_mask=False
    )
    config = Wav2Vec2Config(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        conv_dim=(16, 16),
        conv_stride=(5, 4),
        conv_kernel=(10, 4),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        pad_token_id=0,
        do_stable_layer_norm=True,
        feat_extract_norm="layer",
    )
    Wav2Vec2ForCTC(config).save_pretrained(folder)
    Wav2Vec2Processor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def build_tiny_vits(folder: Path) -> Path:
    """A tiny MMS-style VITS voice (16 kHz) with a character vocabulary, as ``facebook/mms-tts-eng`` is saved."""
    import torch
    from transformers import VitsConfig, VitsModel, VitsTokenizer

    torch.manual_seed(0)
    vocab = {"<pad>": 0, "<unk>": 1, " ": 2, **{c: i + 3 for i, c in enumerate(_char_vocab())}}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    tokenizer = VitsTokenizer(str(folder / "vocab.json"), add_blank=True, normalize=True, phonemize=False)
    config = VitsConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        ffn_dim=32,
        flow_size=16,
        spectrogram_bins=33,
        upsample_initial_channel=16,
        upsample_rates=(8, 4),
        upsample_kernel_sizes=(16, 8),
        resblock_kernel_sizes=(3,),
        resblock_dilation_sizes=((1, 3),),
        depth_separable_num_layers=2,
        duration_predictor_filter_channels=16,
        duration_predictor_num_flows=2,
        prior_encoder_num_flows=2,
        prior_encoder_num_wavenet_layers=2,
        posterior_encoder_num_wavenet_layers=2,
        pad_token_id=0,
    )
    VitsModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_tiny_coqui_vits(folder: Path) -> Path:
    """A tiny Coqui VITS voice (16 kHz, characters, no phonemizer): model.pth and config.json, as Coqui saves them.

    Needs the ``TTS`` package, which lives in ``.venv-coqui`` (``make test-coqui``).
    """
    import torch
    from TTS.config.shared_configs import BaseAudioConfig
    from TTS.tts.configs.vits_config import VitsArgs, VitsConfig
    from TTS.tts.models.vits import Vits

    torch.manual_seed(0)
    audio = BaseAudioConfig(
        sample_rate=16000,
        fft_size=128,
        win_length=128,
        hop_length=32,
        num_mels=16,
        mel_fmax=8000,
        do_trim_silence=False,
    )
    args = VitsArgs(
        out_channels=65,
        hidden_channels=16,
        hidden_channels_ffn_text_encoder=32,
        num_heads_text_encoder=2,
        num_layers_text_encoder=2,
        num_layers_posterior_encoder=2,
        num_layers_flow=2,
        resblock_kernel_sizes_decoder=[3],
        resblock_dilation_sizes_decoder=[[1, 3, 5]],
        upsample_rates_decoder=[8, 4],
        upsample_initial_channel_decoder=16,
        upsample_kernel_sizes_decoder=[16, 8],
        init_discriminator=False,
    )
    config = VitsConfig(
        audio=audio,
        model_args=args,
        use_phonemes=False,
        text_cleaner="basic_cleaners",
        run_name="tiny-coqui-vits",
        test_sentences=[],
    )
    model = Vits(config)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict()}, folder / "model.pth")
    config.save_json(str(folder / "config.json"))
    return folder


def build_tiny_whisper(folder: Path) -> Path:
    """A tiny English Whisper with a byte-level vocabulary and Whisper's special tokens, decoding at most 24 tokens."""
    import torch
    from transformers import (
        GenerationConfig,
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
        WhisperTokenizer,
    )
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    torch.manual_seed(0)
    specials = [
        "<|endoftext|>",
        "<|startoftranscript|>",
        "<|en|>",
        "<|translate|>",
        "<|transcribe|>",
        "<|startoflm|>",
        "<|startofprev|>",
        "<|nocaptions|>",
        "<|notimestamps|>",
    ]
    vocab = {c: i for i, c in enumerate(bytes_to_unicode().values())}
    for token in specials:
        vocab[token] = len(vocab)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = WhisperTokenizer(
        str(folder / "vocab.json"),
        str(folder / "merges.txt"),
        unk_token="<|endoftext|>",
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=specials[1:],
    )
    start, eos = vocab["<|startoftranscript|>"], vocab["<|endoftext|>"]
    config = WhisperConfig(
        vocab_size=len(vocab),
        num_mel_bins=80,
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_source_positions=1500,
        max_target_positions=32,
        decoder_start_token_id=start,
        bos_token_id=eos,
        eos_token_id=eos,
        pad_token_id=eos,
        begin_suppress_tokens=None,
        suppress_tokens=None,
    )
    model = WhisperForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        decoder_start_token_id=start,
        bos_token_id=eos,
        eos_token_id=eos,
        pad_token_id=eos,
        max_length=24,
        no_timestamps_token_id=vocab["<|notimestamps|>"],
        is_multilingual=False,
        forced_decoder_ids=[[1, vocab["<|notimestamps|>"]]],
    )
    model.save_pretrained(folder)
    (folder / "vocab.json").unlink()
    (folder / "merges.txt").unlink()
    WhisperProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=80), tokenizer=tokenizer).save_pretrained(
        folder
    )
    return folder


def build_tiny_bark(folder: Path) -> Path:
    """A tiny Bark (semantic, coarse and fine GPTs of one layer, a small EnCodec at 24 kHz) that stops after 16
    semantic tokens; token ids and offsets are Bark's own, so the real generation code runs unchanged."""
    import torch
    from transformers import BarkConfig, BarkModel, BarkProcessor, BertTokenizerFast, EncodecConfig, GenerationConfig
    from transformers.models.bark.generation_configuration_bark import (
        BarkCoarseGenerationConfig,
        BarkFineGenerationConfig,
        BarkGenerationConfig,
        BarkSemanticGenerationConfig,
    )

    torch.manual_seed(0)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *_char_vocab()]) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True)
    (folder / "vocab.txt").unlink()
    block = dict(block_size=1024, num_layers=1, num_heads=2, hidden_size=16, dropout=0.0)
    config = BarkConfig(
        semantic_config=dict(block, input_vocab_size=129_600, output_vocab_size=10_048),
        coarse_acoustics_config=dict(block, input_vocab_size=12_096, output_vocab_size=12_096),
        fine_acoustics_config=dict(
            block, input_vocab_size=1_056, output_vocab_size=1_056, n_codes_total=8, n_codes_given=1
        ),
        codec_config=EncodecConfig(
            target_bandwidths=[6.0],
            sampling_rate=24_000,
            hidden_size=16,
            num_filters=4,
            upsampling_ratios=[8, 5, 4, 2],
            codebook_size=1024,
            codebook_dim=16,
            num_lstm_layers=1,
        ).to_dict(),
    )
    model = BarkModel(config)
    with (
        torch.no_grad()
    ):  # EnCodec starts its codebooks at zero (k-means fills them in training): every code is silence
        for layer in model.codec_model.quantizer.layers:
            layer.codebook.embed.normal_()
    generation = BarkGenerationConfig(
        semantic_config=BarkSemanticGenerationConfig(max_new_tokens=16).to_dict(),
        coarse_acoustics_config=BarkCoarseGenerationConfig().to_dict(),
        fine_acoustics_config=BarkFineGenerationConfig().to_dict(),
        sample_rate=24_000,
        codebook_size=1024,
    )
    model.generation_config = GenerationConfig()  # transformers 5.23 cannot save a BarkGenerationConfig itself
    model.save_pretrained(folder)
    (folder / "generation_config.json").write_text(generation.to_json_string())
    BarkProcessor(tokenizer=tokenizer).save_pretrained(folder)
    return folder
