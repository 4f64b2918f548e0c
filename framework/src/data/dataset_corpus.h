#pragma once
// The host's CorpusSource (mike/corpus.h): a location is a dataset folder and
// its corpus is the folder's pretrain.jsonl, read on first use, images
// decoded one sample at a time. PluginRegistry::create_editor gives every
// editor this source.
#include <memory>

#include "mike/corpus.h"

namespace mike::data {

std::shared_ptr<const CorpusSource> dataset_corpus_source();

}  // namespace mike::data
