#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "core/model/blockwise_attention.h"
#include "core/model/llama.h"
#include "core/runtime/error.h"

namespace {
dpo::LlamaForCausalLM tiny_model(bool tied) {
  auto config = dpo::LlamaConfig::tiny(50);
  config.tie_word_embeddings = tied;
  torch::manual_seed(3);
  dpo::LlamaForCausalLM model(config);
  dpo::initialise_weights(model);
  model->eval();
  return model;
}
}  // namespace

TEST(Llama, ParameterNamesMatchHuggingFace) {
  auto model = tiny_model(/*tied=*/false);
  auto params = model->named_parameters();
  for (const char* name :
       {"model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
        "model.layers.1.self_attn.k_proj.weight", "model.layers.0.self_attn.v_proj.weight",
        "model.layers.0.self_attn.o_proj.weight", "model.layers.0.mlp.gate_proj.weight",
        "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.down_proj.weight",
        "model.layers.0.input_layernorm.weight", "model.layers.0.post_attention_layernorm.weight",
        "model.norm.weight", "lm_head.weight"})
    EXPECT_TRUE(params.contains(name)) << name;
  const auto& c = model->config();
  EXPECT_EQ(params["model.layers.0.self_attn.k_proj.weight"].sizes(),
            (std::vector<int64_t>{c.num_key_value_heads * c.head_dim, c.hidden_size}));
  int64_t total = 0;
  for (const auto& p : model->parameters()) total += p.numel();
  EXPECT_EQ(total, c.parameter_count());
  EXPECT_FALSE(tiny_model(/*tied=*/true)->named_parameters().contains("lm_head.weight"));
}

TEST(Llama, CausalFutureTokensDoNotChangePast) {
  auto model = tiny_model(true);
  auto ids = torch::randint(3, 50, {1, 10});
  auto mask = torch::ones({1, 10}, torch::kLong);
  auto logits = model(ids, mask);  // (1, 10, V)
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{1, 10, 50}));
  auto changed = ids.clone();
  changed[0][7] = (changed[0][7].item<int64_t>() + 1) % 50;
  auto logits2 = model(changed, mask);
  EXPECT_TRUE(torch::allclose(logits.narrow(1, 0, 7), logits2.narrow(1, 0, 7), 1e-5, 1e-6));
  EXPECT_FALSE(torch::allclose(logits.narrow(1, 7, 3), logits2.narrow(1, 7, 3), 1e-5, 1e-6));
}

TEST(Llama, RightAndLeftPaddingLeaveRealTokensUnchanged) {
  auto model = tiny_model(true);
  auto ids = torch::randint(3, 50, {1, 6});
  auto reference = model(ids, torch::ones({1, 6}, torch::kLong));
  auto pad = torch::zeros({1, 3}, torch::kLong);
  auto right = model(torch::cat({ids, pad}, 1), torch::cat({torch::ones({1, 6}, torch::kLong), pad}, 1));
  EXPECT_TRUE(torch::allclose(right.narrow(1, 0, 6), reference, 1e-4, 1e-5));
  // Left padding: position ids restart at the first real token, padded keys are masked.
  auto left = model(torch::cat({pad, ids}, 1), torch::cat({pad, torch::ones({1, 6}, torch::kLong)}, 1));
  EXPECT_TRUE(torch::allclose(left.narrow(1, 3, 6), reference, 1e-4, 1e-5));
  EXPECT_TRUE(torch::isfinite(left).all().item<bool>());
}

TEST(Llama, MistralSlidingWindowHidesOldKeys) {
  // Window 2, 2 layers: position t sees t-1 and t per layer, so token 0 reaches at most position 2.
  auto config = dpo::LlamaConfig::tiny(50);
  config.sliding_window = 2;
  torch::manual_seed(4);
  dpo::LlamaForCausalLM model(config);
  dpo::initialise_weights(model);
  model->eval();
  auto ids = torch::randint(3, 50, {1, 8});
  auto mask = torch::ones({1, 8}, torch::kLong);
  auto changed = ids.clone();
  changed[0][0] = (changed[0][0].item<int64_t>() + 1) % 50;
  auto a = model(ids, mask), b = model(changed, mask);
  EXPECT_FALSE(torch::allclose(a.narrow(1, 2, 1), b.narrow(1, 2, 1), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(a.narrow(1, 3, 5), b.narrow(1, 3, 5), 1e-5, 1e-6));
  auto mistral = dpo::parse_hf_config({{"architectures", {"MistralForCausalLM"}},
                                       {"vocab_size", 10},
                                       {"hidden_size", 8},
                                       {"intermediate_size", 8},
                                       {"num_hidden_layers", 1},
                                       {"num_attention_heads", 2},
                                       {"sliding_window", 4096}},
                                      "config.json");
  EXPECT_EQ(mistral.sliding_window, 4096);
}

TEST(Llama, PositionIdsStartAtFirstRealToken) {
  auto mask = torch::tensor({0, 0, 1, 1, 1, 1, 1, 1, 0, 0}, torch::kLong).view({2, 5});
  auto pos = dpo::position_ids_from_mask(mask);
  auto expected = torch::tensor({0, 0, 0, 1, 2, 0, 1, 2, 2, 2}, torch::kLong).view({2, 5});
  EXPECT_TRUE(torch::equal(pos, expected));
}

TEST(Rotary, MatchesRotateHalfByHand) {
  // head_dim 4, theta 10000: inv_freq = [1, 1e-2]; position 1 rotates pair (x0, x2) by 1 rad and
  // (x1, x3) by 0.01 rad: out0 = x0·cos1 − x2·sin1, out2 = x2·cos1 + x0·sin1.
  auto config = dpo::LlamaConfig::tiny(10);
  config.head_dim = 4;
  auto inv_freq = dpo::rope_inverse_frequencies(config);
  EXPECT_TRUE(torch::allclose(inv_freq, torch::tensor({1.0f, 0.01f})));
  auto tables = dpo::rotary_tables(torch::tensor({{1}}, torch::kLong), inv_freq, torch::kFloat64);
  auto x = torch::tensor({1.0, 2.0, 3.0, 4.0}, torch::kFloat64).view({1, 1, 1, 4});
  auto y = dpo::apply_rotary(x, tables).flatten();
  EXPECT_NEAR(y[0].item<double>(), std::cos(1.0) - 3 * std::sin(1.0), 1e-6);
  EXPECT_NEAR(y[2].item<double>(), 3 * std::cos(1.0) + std::sin(1.0), 1e-6);
  EXPECT_NEAR(y[1].item<double>(), 2 * std::cos(0.01) - 4 * std::sin(0.01), 1e-6);
  EXPECT_NEAR(y[3].item<double>(), 4 * std::cos(0.01) + 2 * std::sin(0.01), 1e-6);
}

TEST(Rotary, LinearScalingDividesFrequencies) {
  auto config = dpo::LlamaConfig::tiny(10);
  config.head_dim = 4;
  config.rope_scaling_type = "linear";
  config.rope_scaling_factor = 4.0;
  EXPECT_TRUE(torch::allclose(dpo::rope_inverse_frequencies(config), torch::tensor({0.25f, 0.0025f})));
}

TEST(LlamaConfig, RejectsInconsistentHeads) {
  auto config = dpo::LlamaConfig::tiny(50);
  config.num_key_value_heads = 3;
  EXPECT_THROW(config.validate(), dpo::ConfigError);
}

#if !DPO_HAVE_SDPA
// Plain attention (the HF equations) on the same grouped layout: (B, Hkv, rep, T, D).
torch::Tensor plain_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                              const torch::Tensor& bias) {
  auto scores =
      torch::matmul(q, k.unsqueeze(2).transpose(-2, -1)) / std::sqrt(double(q.size(-1))) + bias.unsqueeze(1);
  return torch::matmul(torch::softmax(scores, -1), v.unsqueeze(2));
}

TEST(BlockwiseAttention, EqualsPlainAttentionInValueAndGradient) {
  torch::manual_seed(4);
  // 300 queries: three blocks, the last one short; 20 cached keys before them; GQA with 2 heads a group.
  const int64_t B = 2, Hkv = 2, rep = 2, T = 300, past = 20, S = past + T, D = 8;
  auto attention_mask = torch::ones({B, S}, torch::kLong);
  attention_mask[1].narrow(0, 0, 5).fill_(0);      // left padding in the cache of row 1
  attention_mask[0].narrow(0, S - 7, 7).fill_(0);  // right padding of row 0
  auto bias =
      dpo::attention_bias(dpo::causal_padding_mask(attention_mask, past), torch::kFloat32);  // (B, 1, T, S)
  auto q0 = torch::randn({B, Hkv, rep, T, D}), k0 = torch::randn({B, Hkv, S, D}),
       v0 = torch::randn({B, Hkv, S, D});
  auto q1 = q0.clone().requires_grad_(true), k1 = k0.clone().requires_grad_(true),
       v1 = v0.clone().requires_grad_(true);
  auto q2 = q0.clone().requires_grad_(true), k2 = k0.clone().requires_grad_(true),
       v2 = v0.clone().requires_grad_(true);
  auto plain = plain_attention(q1, k1, v1, bias);
  auto blocked = dpo::blockwise_attention(q2, k2, v2, bias);
  // Rows of real queries agree (row 0's padded queries attend differently and are never used).
  auto real = attention_mask.narrow(1, past, T).to(torch::kFloat32).view({B, 1, 1, T, 1});
  EXPECT_LT(((plain - blocked) * real).abs().max().item<double>(), 1e-5);
  auto upstream = torch::randn_like(plain) * real;
  (plain * upstream).sum().backward();
  (blocked * upstream).sum().backward();
  EXPECT_LT((q1.grad() - q2.grad()).abs().max().item<double>(), 1e-5);
  EXPECT_LT((k1.grad() - k2.grad()).abs().max().item<double>(), 1e-5);
  EXPECT_LT((v1.grad() - v2.grad()).abs().max().item<double>(), 1e-5);
  EXPECT_GT(k2.grad().abs().sum().item<double>(), 0.0);
}
#endif
