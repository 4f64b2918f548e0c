#pragma once
// The host's CorpusSource (mike/corpus.h): a location is a dataset folder and
// its corpus is the folder's pretrain.jsonl, read on first use, images
// decoded one sample at a time. PluginRegistry::create_editor gives every
// editor this source.
//
// The corpus leaves out every pretraining record that an edit record of the
// folder (train/dev/test, every locality field) asks as a locality probe:
// statistics an editor computes (MEMIT's and AlphaEdit's key covariance)
// never saw the inputs its locality is measured on.
#include <memory>

#include "mike/corpus.h"

namespace mike::data {

std::shared_ptr<const CorpusSource> dataset_corpus_source();

}  // namespace mike::data
