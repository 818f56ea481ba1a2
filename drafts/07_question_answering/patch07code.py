import json
path='/work/main/notebooks/07_question_answering.ipynb'
nb=json.load(open(path))
R=[
('D = reader_model.config.hidden_size\n', 'D, LAYERS = reader_model.config.hidden_size, reader_model.config.num_hidden_layers\n'),
('for n in (1, 2, 3):\n    starts, ends = qa.cached_logits', 'for n in range(1, min(3, LAYERS) + 1):       # the test stand-in of the hub has only 2 layers\n    starts, ends = qa.cached_logits'),
('              for n in (1, 2, 3)}\n', '              for n in range(1, min(3, LAYERS) + 1)}\n'),
('SETTINGS = [(1, 1e-3), (2, 1e-3), (3, 1e-3), (3, 2e-3)]      # (layers trained, peak learning rate)',
 'SETTINGS = [(n, lr) for n, lr in [(1, 1e-3), (2, 1e-3), (3, 1e-3), (3, 2e-3)] if n <= LAYERS]   # (layers, peak rate)'),
('''at_least(1 - len(differ) / len(ours), 0.95, what="share of test answers equal to transformers' decoder's");''',
 '''at_least(1 - len(differ) / len(ours), 0.95, finding=True,
         what="share of test answers equal to transformers' decoder's");'''),
]
done=[False]*len(R)
for c in nb['cells']:
    if c['cell_type']!='code': continue
    s=''.join(c['source'])
    for k,(a,b) in enumerate(R):
        if a in s: s=s.replace(a,b); done[k]=True
    lines=s.split('\n'); c['source']=[l+'\n' for l in lines[:-1]]+[lines[-1]]
print("patched:", done)
with open(path,'w') as f:
    json.dump(nb,f,indent=1,sort_keys=True,ensure_ascii=False); f.write('\n')
