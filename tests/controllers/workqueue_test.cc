// The work queue's guarantees: one entry per item however many times it is added, no item handed
// to two workers at once, changes during processing not lost, back-off that doubles to a cap.
#include "controllers/workqueue.h"

#include <gtest/gtest.h>

#include <thread>

namespace skiff::controllers {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(WorkQueueTest, DeduplicatesItemsWaitingToBeProcessed) {
  WorkQueue q;
  q.Add("a");
  q.Add("a");
  q.Add("b");
  q.Add("a");
  EXPECT_EQ(q.Len(), 2u);
  std::string item;
  ASSERT_TRUE(q.TryGet(&item, milliseconds(0)));
  EXPECT_EQ(item, "a");
  ASSERT_TRUE(q.TryGet(&item, milliseconds(0)));
  EXPECT_EQ(item, "b");
  EXPECT_FALSE(q.TryGet(&item, milliseconds(0)));
}

TEST(WorkQueueTest, AnItemAddedWhileProcessingComesBackAfterDone) {
  WorkQueue q;
  q.Add("a");
  std::string item;
  ASSERT_TRUE(q.TryGet(&item, milliseconds(0)));
  q.Add("a");  // a change arrives mid-reconcile
  // Not handed to a second worker while the first holds it.
  std::string other;
  EXPECT_FALSE(q.TryGet(&other, milliseconds(0)));
  q.Done("a");
  ASSERT_TRUE(q.TryGet(&other, milliseconds(0)));
  EXPECT_EQ(other, "a");
  q.Done("a");
  EXPECT_FALSE(q.TryGet(&other, milliseconds(0)));
}

TEST(WorkQueueTest, BackoffDoublesPerFailureUpToTheCapAndForgetResets) {
  RateLimiter limiter(milliseconds(5), seconds(1000));
  EXPECT_EQ(limiter.When("x"), milliseconds(5));
  EXPECT_EQ(limiter.When("x"), milliseconds(10));
  EXPECT_EQ(limiter.When("x"), milliseconds(20));
  EXPECT_EQ(limiter.When("y"), milliseconds(5));  // per item
  EXPECT_EQ(limiter.NumRequeues("x"), 3);
  for (int i = 0; i < 100; ++i) limiter.When("x");
  EXPECT_EQ(limiter.When("x"), seconds(1000));
  limiter.Forget("x");
  EXPECT_EQ(limiter.NumRequeues("x"), 0);
  EXPECT_EQ(limiter.When("x"), milliseconds(5));
}

TEST(WorkQueueTest, DelayedItemsArriveAfterTheirDelay) {
  WorkQueue q;
  q.AddAfter("later", milliseconds(50));
  std::string item;
  // Not ready at once...
  EXPECT_FALSE(q.TryGet(&item, milliseconds(0)));
  // ...but within a generous bound.
  ASSERT_TRUE(q.TryGet(&item, seconds(30)));
  EXPECT_EQ(item, "later");
  q.Done(item);
}

TEST(WorkQueueTest, AnEarlierAddAfterWins) {
  WorkQueue q;
  q.AddAfter("x", seconds(3600));
  q.AddAfter("x", milliseconds(1));
  std::string item;
  ASSERT_TRUE(q.TryGet(&item, seconds(30)));
  EXPECT_EQ(item, "x");
  q.Done("x");
  // Only one copy existed.
  EXPECT_FALSE(q.TryGet(&item, milliseconds(20)));
}

TEST(WorkQueueTest, RateLimitedAddsComeBack) {
  WorkQueue q(milliseconds(1), milliseconds(10));
  q.AddRateLimited("r");
  q.AddRateLimited("r");
  EXPECT_EQ(q.NumRequeues("r"), 2);
  std::string item;
  ASSERT_TRUE(q.TryGet(&item, seconds(30)));
  EXPECT_EQ(item, "r");
}

TEST(WorkQueueTest, ShutDownWakesBlockedWorkers) {
  WorkQueue q;
  std::thread worker([&] {
    std::string item;
    EXPECT_FALSE(q.Get(&item));
  });
  std::this_thread::sleep_for(milliseconds(20));
  q.ShutDown();
  worker.join();
  q.Add("ignored");
  EXPECT_EQ(q.Len(), 0u);
  EXPECT_TRUE(q.shutting_down());
}

}  // namespace
}  // namespace skiff::controllers
