import pytest

from seqtasks.core.config import (
    ConfigError,
    RunConfig,
    apply_overrides,
    from_dict,
    to_dict,
)


def test_overrides_parse_each_field_type():
    config = apply_overrides(RunConfig(), ["train.lr=0.01", "encoder.num_layers=2", "encoder.bidirectional=false",
                                           "head.pooling=mean"])
    assert config.train.lr == 0.01 and config.encoder.num_layers == 2
    assert config.encoder.bidirectional is False and config.head.pooling == "mean"


def test_optional_field_takes_a_value_or_none():
    config = apply_overrides(RunConfig(), ["encoder.forget_bias=1.0"])
    assert config.encoder.forget_bias == 1.0
    assert apply_overrides(config, ["encoder.forget_bias=none"]).encoder.forget_bias is None


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError, match=r"unknown config key 'train.learning_rate'.*train\.lr"):
        apply_overrides(RunConfig(), ["train.learning_rate=0.1"])
    with pytest.raises(ConfigError, match="unknown config key 'encoder'"):
        apply_overrides(RunConfig(), ["encoder=3"])


def test_bad_value_names_key_and_type():
    with pytest.raises(ConfigError, match="train.epochs='ten': expected a int"):
        apply_overrides(RunConfig(), ["train.epochs=ten"])
    with pytest.raises(ConfigError, match="expected a bool"):
        apply_overrides(RunConfig(), ["data.lowercase=maybe"])


def test_json_round_trip_and_unknown_saved_key():
    config = apply_overrides(RunConfig(recipe="sst2"), ["train.seed=7"])
    assert from_dict(RunConfig, to_dict(config)) == config
    data = to_dict(config)
    data["head"]["crf_mode"] = True
    with pytest.raises(ConfigError, match=r"config.head: unknown keys \['crf_mode'\]"):
        from_dict(RunConfig, data)
