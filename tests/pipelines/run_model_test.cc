// The engine's durable state: a run's status written and read back keeps what a retry needs.
#include "pipelines/run_model.h"

#include <gtest/gtest.h>

namespace skiff::pipelines {
namespace {

// A ParallelFor whose second iteration failed, written to status and read back (as after a
// restart of skiff), then retried: the loop reopens with its items, the failed task goes, the
// succeeded iteration stays.
TEST(RunModelTest, ARetriedLoopKeepsItsItemsAcrossARestart) {
  RunModel m;
  m.state = "FAILED";
  TaskRun& loop = m.Add("loop", "", "loop", "loop", "loop");
  loop.state = "FAILED";
  loop.items = Json::parse("[1, 2]");
  loop.item_input = "item";
  loop.parallelism = 1;
  TaskRun& it0 = m.Add("loop.0", "loop", "0", "loop-0", "iteration");
  it0.state = "SUCCEEDED";
  TaskRun& ok = m.Add("loop.0.work", "loop.0", "work", "work", "container");
  ok.state = "SUCCEEDED";
  ok.outputs["parameters"]["out"] = "one";
  TaskRun& it1 = m.Add("loop.1", "loop", "1", "loop-1", "iteration");
  it1.state = "FAILED";
  TaskRun& bad = m.Add("loop.1.work", "loop.1", "work", "work", "container");
  bad.state = "FAILED";

  RunModel back;
  back.LoadStatus(m.ToStatus(Json(1)));
  back.ResetFailed();
  TaskRun* l = back.Find("loop");
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->state, "RUNNING");
  EXPECT_EQ(l->items, Json::parse("[1, 2]"));
  EXPECT_EQ(l->item_input, "item");
  EXPECT_EQ(l->parallelism, 1);
  ASSERT_NE(back.Find("loop.1"), nullptr);
  EXPECT_EQ(back.Find("loop.1")->state, "RUNNING");
  EXPECT_EQ(back.Find("loop.1.work"), nullptr);
  ASSERT_NE(back.Find("loop.0.work"), nullptr);
  EXPECT_EQ(back.Find("loop.0.work")->outputs["parameters"]["out"], "one");
  EXPECT_EQ(back.Find("loop.0")->state, "SUCCEEDED");
}

}  // namespace
}  // namespace skiff::pipelines
