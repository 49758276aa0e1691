// Policy spellings: syntax, knobs with defaults, errors naming the knob, composition rules.
#include "gearbox/serve/cap/policy_spec.hpp"

#include <gtest/gtest.h>

#include "gearbox/core/error.hpp"
#include "gearbox/serve/cap/cap_policy.hpp"

namespace gearbox::serve::cap {
namespace {

std::string error_of(std::string_view spelling) {
  try {
    plan_cap(spelling);
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    return e.what();
  }
  return "";
}

TEST(PolicySpec, SplitsTermsKnobsAndBareWords) {
  const auto t = parse_policy_spec("streaming:sink=4,window=1024+quant:int8");
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].name, "streaming");
  ASSERT_EQ(t[0].knobs.size(), 2u);
  EXPECT_EQ(t[0].knobs[0], (std::pair<std::string, std::string>{"sink", "4"}));
  EXPECT_EQ(t[0].knobs[1], (std::pair<std::string, std::string>{"window", "1024"}));
  EXPECT_EQ(t[1].knobs[0], (std::pair<std::string, std::string>{"", "int8"}));
  EXPECT_EQ(to_spelling(t), "streaming:sink=4,window=1024+quant:int8");
}

TEST(PolicySpec, SyntaxErrors) {
  EXPECT_THROW(parse_policy_spec(""), Error);
  EXPECT_THROW(parse_policy_spec("+quant"), Error);
  EXPECT_THROW(parse_policy_spec("streaming:window="), Error);
  EXPECT_THROW(parse_policy_spec("streaming:=4"), Error);
  EXPECT_THROW(parse_policy_spec("streaming:window=1,window=2"), Error);
  EXPECT_THROW(parse_policy_spec(std::string(5000, 'a')), Error);
}

TEST(CapPlan, DefaultsAndKnobsReachTheRecipe) {
  auto p = plan_cap("streaming:sink=2,window=64");
  EXPECT_EQ(p.recipe.eviction, KvEviction::kStreaming);
  EXPECT_EQ(p.recipe.sink, 2);
  EXPECT_EQ(p.recipe.window, 64);
  EXPECT_TRUE(p.recipe.cache_positions);
  EXPECT_EQ(p.goals(), "C+P");

  auto h = plan_cap("h2o:budget=100");
  EXPECT_EQ(h.recipe.eviction, KvEviction::kH2o);
  EXPECT_EQ(h.recipe.budget, 100);
  EXPECT_EQ(h.recipe.recent, 50);

  EXPECT_EQ(plan_cap("quant:int4").recipe.storage, KvStorage::kInt4);
  EXPECT_EQ(plan_cap("quant").recipe.storage, KvStorage::kInt8);
  EXPECT_EQ(plan_cap("quant:type=int8").recipe.storage, KvStorage::kInt8);

  auto r = plan_cap("rope:yarn,factor=4");
  EXPECT_EQ(r.recipe.rope, RopeScaling::kYarn);
  EXPECT_DOUBLE_EQ(r.recipe.rope_factor, 4.0);
  EXPECT_EQ(plan_cap("rope:linear,factor=2").recipe.rope, RopeScaling::kLinear);
  EXPECT_EQ(plan_cap("rope:ntk").recipe.rope, RopeScaling::kNtk);

  auto o = plan_cap("offload");
  EXPECT_EQ(o.recipe.offload, KvOffload::kFile);
  EXPECT_EQ(o.goals(), "C+A");
  EXPECT_EQ(plan_cap("offload:host").recipe.offload, KvOffload::kHost);

  auto f = plan_cap("");
  EXPECT_EQ(f.spelling, "full:ctx=0");
  EXPECT_EQ(f.goals(), "A+P");
}

TEST(CapPlan, Compositions) {
  auto p = plan_cap("streaming:window=512+quant:int4");
  EXPECT_EQ(p.recipe.eviction, KvEviction::kStreaming);
  EXPECT_EQ(p.recipe.storage, KvStorage::kInt4);
  EXPECT_EQ(p.spelling, "streaming:sink=4,window=512,positions=cache+quant:int4");
  auto q = plan_cap("rope:linear,factor=2+quant:int8");
  EXPECT_EQ(q.recipe.rope, RopeScaling::kLinear);
  EXPECT_EQ(q.recipe.storage, KvStorage::kInt8);
  auto o = plan_cap("offload+quant:int8");
  EXPECT_EQ(o.recipe.offload, KvOffload::kFile);
  // The canonical spelling parses back to the same plan.
  EXPECT_EQ(plan_cap(p.spelling).spelling, p.spelling);
}

TEST(CapPlan, ErrorsNameTheKnob) {
  EXPECT_NE(error_of("streaming:windw=4").find("streaming.windw"), std::string::npos);
  EXPECT_NE(error_of("streaming:windw=4").find("sink, window, positions"), std::string::npos);
  EXPECT_NE(error_of("streaming:window=-1").find("streaming.window"), std::string::npos);
  EXPECT_NE(error_of("streaming:window=abc").find("streaming.window"), std::string::npos);
  EXPECT_NE(error_of("quant:int3").find("quant.type"), std::string::npos);
  EXPECT_NE(error_of("rope:yarn,factor=0.5").find("rope.factor"), std::string::npos);
  EXPECT_NE(error_of("rope:yarn,factor=nan").find("rope.factor"), std::string::npos);
  EXPECT_NE(error_of("h2o:budget=10,recent=10").find("h2o.recent"), std::string::npos);
  EXPECT_NE(error_of("bogus").find("full, streaming, h2o, quant, rope, offload"),
            std::string::npos);
  EXPECT_NE(error_of("streaming:4").find("streaming"), std::string::npos);  // no bare knob
}

TEST(CapPlan, RejectsCompositionsThatDoNotMakeSense) {
  EXPECT_NE(error_of("streaming+h2o").find("cannot be combined"), std::string::npos);
  EXPECT_NE(error_of("full+streaming").find("cannot be combined"), std::string::npos);
  EXPECT_NE(error_of("offload+streaming").find("cannot be combined"), std::string::npos);
  EXPECT_NE(error_of("quant:int8+quant:int4").find("cannot be combined"), std::string::npos);
  EXPECT_NE(error_of("rope+rope:ntk").find("cannot be combined"), std::string::npos);
}

TEST(CapPlan, EveryPolicyDeclaresTwoDistinctGoalsAndItsKnobs) {
  for (const auto& name : policy_names()) {
    auto p = make_policy({name, {}});
    EXPECT_EQ(p->name(), name);
    EXPECT_NE(p->serves().first, p->serves().second) << name;
    for (const auto& k : p->knobs()) EXPECT_FALSE(k.help.empty()) << name << "." << k.name;
  }
}

}  // namespace
}  // namespace gearbox::serve::cap
