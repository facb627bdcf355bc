#pragma once
// A fixed set of threads running submitted jobs from a bounded queue: the work that blocks and so
// must stay off the HTTP threads (commands that call a real Customer or Inventory service over
// HTTP, folds of a stream for ?version= and history, backups). No job waits for the group commit:
// a command resumes here once its append is durable. A full queue refuses at once (503).
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace orderflow::app {

class WorkerPool {
 public:
  WorkerPool(int threads, size_t queue_max);
  ~WorkerPool();  // finishes queued jobs, then joins
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  /// Queues `job`; false when the queue is full or the pool is stopping (the job is not run).
  bool submit(std::function<void()> job);
  /// Queues `job` whatever the queue's length (continuations of work already admitted, bounded by
  /// it); runs it on the calling thread when the pool has stopped. Never drops it.
  void post(std::function<void()> job);
  /// Stops accepting, runs what is queued, joins the threads.
  void stop();
  size_t queued() const;

 private:
  void loop();
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> jobs_;
  size_t queue_max_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace orderflow::app
